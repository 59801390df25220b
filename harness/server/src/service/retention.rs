//! Retention (`serve --retention`, PROTOCOL §6): events older than the window, once none
//! of their deliveries is pending, are forgotten with their deliveries and delivery
//! logs. A background task sweeps in bounded batches, each its own short transaction,
//! so dispatch never waits long behind it; on Postgres, instances sweeping at once skip
//! each other's rows.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::AppState;
use menon_harness_common::parse_duration;

/// Events forgotten per transaction.
pub const BATCH: u32 = 500;
/// The longest pause between sweeps.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// How long settled events are kept: a duration (`30d`, `12h`), or `off` (for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(Option<Duration>);

impl Retention {
    /// The default, 30 days.
    pub const DEFAULT: Retention = Retention(Some(Duration::from_secs(30 * 24 * 3_600)));

    /// The window, `None` when events are kept for ever.
    pub fn window(self) -> Option<Duration> {
        self.0
    }
}

impl FromStr for Retention {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim() == "off" {
            return Ok(Retention(None));
        }
        match parse_duration(text)? {
            d if d.is_zero() => Err("a retention of 0 would forget events as they settle; \
                                     write `off` to keep them for ever"
                .into()),
            d if d.subsec_nanos() != 0 => Err(format!(
                "retention {text:?} is not whole seconds: write e.g. 30d, 12h or 90s"
            )),
            d => Ok(Retention(Some(d))),
        }
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(d) => write!(f, "{}s", d.as_secs()),
        }
    }
}

/// Sweeps until `stopping` turns true: every so often (a quarter of the window, between
/// 1 s and a minute of real time), forgets what the window lets go, [`BATCH`] events per
/// transaction, until a batch comes back short.
pub async fn run(
    state: AppState,
    retention: Retention,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let Some(window) = retention.window() else {
        return;
    };
    let interval = (window / 4).clamp(Duration::from_secs(1), MAX_INTERVAL);
    loop {
        let cutoff = state.clock.now_unix().saturating_sub(window.as_secs());
        let mut forgotten = 0u64;
        loop {
            if *stopping.borrow() {
                return;
            }
            match super::blocking(&state, move |store| store.purge_settled(cutoff, BATCH)).await {
                Ok(n) => {
                    forgotten += u64::from(n);
                    if n < BATCH {
                        break;
                    }
                    // Let the dispatcher's writes in between batches.
                    tokio::task::yield_now().await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the retention sweep failed; trying again later");
                    break;
                }
            }
        }
        if forgotten > 0 {
            tracing::info!(
                forgotten,
                cutoff,
                "retention: forgot settled events and their logs"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_reads_durations_and_off() {
        assert_eq!("30d".parse(), Ok(Retention::DEFAULT));
        assert_eq!("off".parse(), Ok(Retention(None)));
        assert_eq!(
            "90s".parse::<Retention>().map(Retention::window),
            Ok(Some(Duration::from_secs(90)))
        );
        assert!("0".parse::<Retention>().unwrap_err().contains("off"));
        assert!("1500ms".parse::<Retention>().is_err());
        assert!("soon".parse::<Retention>().is_err());
        assert_eq!(Retention::DEFAULT.to_string(), "2592000s");
    }
}
