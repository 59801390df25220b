//! `menon-harness-common`: the leaf helpers both the reference server and the grader
//! (`menon-grader`) need, so that neither has to depend on the other.
//!
//! [`ids`] makes ids and secrets, [`delivery`] builds the headers of one delivery as the
//! core signs them (and names the `User-Agent`), [`samples`] holds the fixture payloads
//! of the 21 event types, [`parse_duration`] reads `10s`/`500ms`, [`shutdown_signal`]
//! waits for Ctrl-C or SIGTERM, and [`now_unix`] reads the wall clock.
//!
//! It must depend on neither the server (store, API, dashboard: no rusqlite, axum,
//! askama or jsonwebtoken) nor the grader: it is the leaf both stand on.

pub mod delivery;
pub mod ids;
pub mod samples;
pub mod scheme;

mod duration;
mod shutdown;

pub use duration::parse_duration;
pub use shutdown::shutdown_signal;

/// Seconds since the unix epoch on the system's wall clock (a clock set before 1970
/// reads as the epoch rather than failing). The server reads it through its `Clock`;
/// the grader signs with it, as a real sender does.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wall_clock_is_after_2024() {
        assert!(super::now_unix() > 1_704_067_200);
    }
}
