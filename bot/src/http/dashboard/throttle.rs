//! Slowing down guesses at `admin.token`: after a burst of wrong tokens the sign-in form refuses
//! everyone for the rest of the minute, so guessing over HTTP stays hopeless even for a token at
//! the 16-character minimum. Counted for the whole process, not per address (behind a reverse
//! proxy every caller has the proxy's address).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Wrong tokens accepted per window before every attempt is refused until it ends.
pub const WRONG_TOKENS_PER_WINDOW: u32 = 10;
/// How long a window lasts.
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Throttle {
    window: Mutex<Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    wrong: u32,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            window: Mutex::new(Window {
                started: Instant::now(),
                wrong: 0,
            }),
        }
    }
}

impl Throttle {
    /// `Some(wait)` when attempts are refused now, with how long until they are taken again.
    pub fn refused_for(&self) -> Option<Duration> {
        let window = self.current();
        (window.wrong >= WRONG_TOKENS_PER_WINDOW)
            .then(|| (window.started + WINDOW).saturating_duration_since(Instant::now()))
    }

    /// A wrong token was presented.
    pub fn wrong_token(&self) {
        let mut window = self.current();
        window.wrong = window.wrong.saturating_add(1);
    }

    /// The window now, a fresh one when the last has ended.
    fn current(&self) -> std::sync::MutexGuard<'_, Window> {
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if window.started.elapsed() >= WINDOW {
            *window = Window {
                started: Instant::now(),
                wrong: 0,
            };
        }
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_wrong_tokens_closes_the_form_until_the_minute_ends() {
        let throttle = Throttle::default();
        for _ in 0..WRONG_TOKENS_PER_WINDOW {
            assert_eq!(throttle.refused_for(), None);
            throttle.wrong_token();
        }
        let wait = throttle.refused_for().expect("refused after the burst");
        assert!(wait <= WINDOW && wait > Duration::from_secs(59), "{wait:?}");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(throttle
            .refused_for()
            .is_some_and(|w| w <= Duration::from_secs(30)));
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(
            throttle.refused_for(),
            None,
            "a new window takes attempts again"
        );
    }
}
