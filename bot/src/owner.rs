//! One serving process per SQLite file. The bot caches reads in front of SQLite on the promise
//! that it alone writes there; a second `serve` on the same file would answer from stale caches.
//! So serving takes an exclusive lock on a file next to the database, which the operating
//! system releases when the process ends, however it ends (a `kill -9` included).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Held for as long as this process serves the database.
#[derive(Debug)]
pub struct SqliteOwner {
    _lock: File,
}

impl SqliteOwner {
    /// Takes the lock of the SQLite file at `url`; `None` for an in-memory database. Fails
    /// with a readable error when another process holds it.
    pub fn take(url: &str) -> anyhow::Result<Option<SqliteOwner>> {
        let Some(database) = rallybot_storage::sqlite::database_file(url)
            .with_context(|| format!("reading the database URL {url}"))?
        else {
            return Ok(None);
        };
        let database = database.as_path();
        let path = lock_path(database);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        match lock.try_lock() {
            Ok(()) => Ok(Some(SqliteOwner { _lock: lock })),
            Err(TryLockError::WouldBlock) => anyhow::bail!(
                "another rallybot process is serving {} already (lock {} is held). \
                 Run one `serve` per SQLite file, or use PostgreSQL for several instances.",
                database.display(),
                path.display()
            ),
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}

/// `rallybot.db` → `rallybot.db.serve-lock`, in the same folder.
fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".serve-lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_of_one_file_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bot.db").display());
        let first = SqliteOwner::take(&url).unwrap();
        assert!(first.is_some());
        let refused = SqliteOwner::take(&url).unwrap_err().to_string();
        assert!(refused.contains("serving"), "{refused}");
        assert!(refused.contains("bot.db"), "{refused}");
        drop(first);
        assert!(SqliteOwner::take(&url).unwrap().is_some());
        // Another file is another owner.
        let other = format!("sqlite://{}", dir.path().join("other.db").display());
        assert!(SqliteOwner::take(&other).unwrap().is_some());
    }

    #[test]
    fn an_in_memory_database_needs_no_lock() {
        assert!(SqliteOwner::take("sqlite::memory:").unwrap().is_none());
    }
}
