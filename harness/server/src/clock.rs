//! The one clock of the harness. Everything that needs "now" (JWT expiry, `createdAt`,
//! secret rotation windows, the retry schedule) reads it through [`Clock`], so that tests
//! and `grade` can move time forward instead of waiting for it.
//!
//! `serve --time-scale N` runs on a [`ScaledClock`]: N clock seconds pass per real second,
//! so a person (or a test) can watch the 26.6-hour retry schedule in minutes (or seconds).
//! Two readings stay on the wall clock even then, through [`Clock::wall_unix`]: the
//! signing timestamp (`X-Menon-Timestamp`, so receivers' replay windows still hold) and
//! JWT expiry (tokens are issued on the wall clock), and so do rates ([`Clock::wall_millis`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A source of time in unix seconds.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the unix epoch, on this clock (scaled under `--time-scale`).
    fn now_unix(&self) -> u64;

    /// Seconds since the unix epoch on the wall clock: signing timestamps and JWT expiry.
    fn wall_unix(&self) -> u64 {
        self.now_unix()
    }

    /// Milliseconds since the unix epoch on the wall clock: rates (the publish limit).
    fn wall_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Clock seconds per real second: how the dispatcher turns a wait on this clock into
    /// a real sleep.
    fn scale(&self) -> f64 {
        1.0
    }
}

/// The shared handle every component holds.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> u64 {
        menon_harness_common::now_unix()
    }
}

/// The system clock, sped up: `scale` clock seconds pass per real second, counted from an
/// anchor that reads as the wall time then: the moment it was made, or a wall time given
/// (`serve --time-scale-from`), so that instances sharing one database, started at
/// different moments, read the same time.
#[derive(Debug)]
pub struct ScaledClock {
    start_unix: f64,
    start: Instant,
    scale: f64,
}

impl ScaledClock {
    /// A clock running `scale` times faster than the wall clock from now on.
    pub fn new(scale: f64) -> Self {
        Self::anchored(scale, None)
    }

    /// A clock running `scale` times faster than the wall clock since the wall time
    /// `from` (unix seconds; now when `None`): at the wall time `from` it read `from`.
    pub fn anchored(scale: f64, from: Option<u64>) -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        // Unix seconds as a float: exact far beyond any date a clock reads.
        #[allow(clippy::cast_precision_loss)]
        let from = from.map_or(wall, |from| from as f64);
        Self {
            start_unix: from + (wall - from) * scale,
            start: Instant::now(),
            scale,
        }
    }
}

impl Clock for ScaledClock {
    fn now_unix(&self) -> u64 {
        let now = self.start_unix + self.start.elapsed().as_secs_f64() * self.scale;
        // Truncation to whole seconds is the point; the value is positive and finite.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = now as u64;
        secs
    }

    fn wall_unix(&self) -> u64 {
        SystemClock.now_unix()
    }

    fn scale(&self) -> f64 {
        self.scale
    }
}

/// A clock that only moves when told to: for tests of expiry and of the retry schedule.
#[derive(Debug, Default)]
#[cfg_attr(not(test), allow(dead_code))] // used by unit tests now, by `grade` later
pub struct TestClock {
    now: AtomicU64,
}

#[cfg_attr(not(test), allow(dead_code))]
impl TestClock {
    /// A clock reading `start` (unix seconds).
    pub fn new(start: u64) -> Self {
        Self {
            now: AtomicU64::new(start),
        }
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: u64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the clock to `unix` (forward or back).
    pub fn set(&self, unix: u64) {
        self.now.store(unix, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_unix(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn wall_millis(&self) -> u64 {
        self.now_unix().saturating_mul(1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_only_when_told() {
        let clock = TestClock::new(1_705_314_600);
        assert_eq!(clock.now_unix(), 1_705_314_600);
        clock.advance(60);
        assert_eq!(clock.now_unix(), 1_705_314_660);
    }

    #[test]
    fn scaled_clocks_with_one_anchor_agree_whenever_they_start() {
        let from = SystemClock.now_unix() - 2;
        let early = ScaledClock::anchored(100_000.0, Some(from));
        std::thread::sleep(std::time::Duration::from_millis(200));
        let late = ScaledClock::anchored(100_000.0, Some(from));
        // The late clock, read between two readings of the early one, reads between them
        // give or take 20 ms of real time (2 000 clock s: room for a thread preempted
        // while a clock is made); started 200 ms apart (20 000 clock seconds), they read
        // the same time. Two seconds since the anchor read as 200 000.
        let (before, reading, after) = (early.now_unix(), late.now_unix(), early.now_unix());
        assert!(
            before <= reading + 2_000 && reading <= after + 2_000,
            "{before} {reading} {after}"
        );
        assert!(
            before >= from + 200_000,
            "{before} is not 200 000 s past {from}"
        );
    }

    #[test]
    fn scaled_clock_runs_faster_but_signs_on_the_wall() {
        let clock = ScaledClock::new(10_000.0);
        let start = clock.now_unix();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            clock.now_unix() >= start + 150,
            "{}",
            clock.now_unix() - start
        );
        assert!(clock.wall_unix().abs_diff(SystemClock.now_unix()) <= 1);
        assert!((clock.scale() - 10_000.0).abs() < f64::EPSILON);
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(SystemClock.now_unix() > 1_704_067_200);
    }
}
