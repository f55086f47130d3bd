//! One serving process per SQLite file. A serving store caches reads on the promise that its
//! process alone writes the file; a second serving process would answer from stale caches. So
//! serving takes an exclusive lock on a file next to the database, held until the store is
//! closed, and which the operating system releases when the process ends, however it ends (a
//! `kill -9` included).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::StorageError;

/// This process's hold on one database file.
#[derive(Debug)]
pub(super) struct ServeLock {
    /// The open, locked lock file; `None` once released.
    file: Mutex<Option<File>>,
}

impl ServeLock {
    /// Takes the lock of `database`, or says which process-wide rule that would break.
    pub(super) fn take(database: &Path) -> Result<Self, StorageError> {
        let path = lock_path(database);
        let failed = |source| StorageError::Lock {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => Ok(Self {
                file: Mutex::new(Some(file)),
            }),
            Err(TryLockError::WouldBlock) => Err(StorageError::AlreadyServed {
                database: database.to_path_buf(),
                lock: path,
            }),
            Err(TryLockError::Error(source)) => Err(failed(source)),
        }
    }

    /// Lets go of the lock (closing the file releases it); releasing again does nothing.
    pub(super) fn release(&self) {
        // A poisoned lock only means a panic while the file was being taken out.
        drop(self.file.lock().unwrap_or_else(|e| e.into_inner()).take());
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
    fn a_second_lock_of_one_file_is_refused_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("bot.db");
        let first = ServeLock::take(&database).unwrap();
        let refused = ServeLock::take(&database).unwrap_err().to_string();
        assert!(refused.contains("serving"), "{refused}");
        assert!(refused.contains("bot.db"), "{refused}");
        first.release();
        let second = ServeLock::take(&database).unwrap();
        drop(second);
        assert!(ServeLock::take(&database).is_ok(), "dropping releases too");
        // Another file is another lock.
        let _first_again = ServeLock::take(&database).unwrap();
        assert!(ServeLock::take(&dir.path().join("other.db")).is_ok());
    }
}
