//! Time for the engine: a [`Clock`] gives the current instant and sleeps until a deadline.
//!
//! [`SystemClock`] is the real time; [`ManualClock`] moves only when a test tells it to, so tests
//! can cross midnight, fire the auto-save timer and let back-offs pass without sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A boxed future returned by [`Clock::sleep_until`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Where the engine gets the time from.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Completes once [`Clock::now`] has reached `deadline` (at once if it already has).
    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_>;
}

/// The system's wall clock; sleeps with tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_> {
        let wait = (deadline - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that only moves when told ([`ManualClock::advance`], [`ManualClock::set`]); its
/// sleepers wake as soon as the time they wait for is reached. Cheap to clone (shared time).
#[derive(Debug, Clone)]
pub struct ManualClock {
    time: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        let (time, _) = watch::channel(start);
        Self {
            time: Arc::new(time),
        }
    }

    /// Moves the clock forward by `by` (a negative duration is ignored: time never goes back).
    pub fn advance(&self, by: chrono::Duration) {
        if by > chrono::Duration::zero() {
            self.time.send_modify(|t| *t += by);
        }
    }

    /// Sets the clock to `to` if that is later than now (time never goes back).
    pub fn set(&self, to: DateTime<Utc>) {
        self.time.send_if_modified(|t| {
            let later = to > *t;
            if later {
                *t = to;
            }
            later
        });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.time.borrow()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_> {
        let mut rx = self.time.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, so `wait_for` only ends when the time is reached.
            let _ = rx.wait_for(|t| *t >= deadline).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 31, 23, 59, 0)
            .single()
            .expect("valid")
    }

    #[tokio::test]
    async fn manual_sleeper_wakes_only_when_time_is_reached() {
        let clock = ManualClock::new(start());
        let deadline = start() + chrono::Duration::seconds(60);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(deadline).await })
        };
        clock.advance(chrono::Duration::seconds(30));
        tokio::task::yield_now().await;
        assert!(
            !sleeper.is_finished(),
            "30 s of a 60 s wait have passed: the sleeper must still wait"
        );
        clock.advance(chrono::Duration::seconds(30));
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("the sleeper wakes once the deadline is reached")
            .expect("sleeper task");
        assert_eq!(
            clock.now(),
            deadline,
            "two advances of 30 s move the clock by exactly 60 s"
        );
    }

    #[tokio::test]
    async fn manual_clock_never_goes_back() {
        let clock = ManualClock::new(start());
        clock.advance(chrono::Duration::seconds(-5));
        clock.set(start() - chrono::Duration::hours(1));
        assert_eq!(
            clock.now(),
            start(),
            "negative advances and earlier set times are ignored"
        );
        clock.sleep_until(start()).await;
    }

    #[tokio::test]
    async fn system_clock_past_deadline_returns_at_once() {
        let clock = SystemClock;
        let before = clock.now();
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            clock.sleep_until(before - chrono::Duration::seconds(10)),
        )
        .await
        .expect("a deadline in the past completes at once");
    }
}
