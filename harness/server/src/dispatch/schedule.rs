//! The retry schedule of PROTOCOL §5 as pure arithmetic: attempt 1 at once, then 1 min,
//! 5 min, 30 min, 2 h and 24 h after each failure; a `Retry-After` may push an attempt
//! later (never earlier, at most 24 h beyond the schedule). Times are the clock's unix
//! seconds, so a scaled or test clock runs the same schedule faster.

/// How many attempts one event gets at one webhook (in one schedule).
pub const MAX_ATTEMPTS: u32 = 6;

/// The delay before attempt 2, 3, 4, 5 and 6, counted from the previous failure.
pub const DELAYS: [u64; 5] = [60, 5 * 60, 30 * 60, 2 * 60 * 60, 24 * 60 * 60];

/// How far beyond the schedule a `Retry-After` may push an attempt.
pub const RETRY_AFTER_CAP: u64 = 24 * 60 * 60;

/// When the next attempt is due after the `failures`-th failed attempt (1-based) that
/// ended at `failed_at`, given the answer's `Retry-After` in seconds from then; `None`
/// when that was the last attempt.
pub fn next_attempt(failures: u32, failed_at: u64, retry_after: Option<u64>) -> Option<u64> {
    if failures == 0 || failures >= MAX_ATTEMPTS {
        return None;
    }
    let index = usize::try_from(failures - 1).ok()?;
    let scheduled = failed_at.saturating_add(*DELAYS.get(index)?);
    Some(match retry_after {
        Some(secs) => failed_at
            .saturating_add(secs)
            .clamp(scheduled, scheduled.saturating_add(RETRY_AFTER_CAP)),
        None => scheduled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_schedule() {
        let mut at = 1_000;
        let mut gaps = Vec::new();
        for failures in 1..MAX_ATTEMPTS {
            let next = next_attempt(failures, at, None).unwrap_or_default();
            gaps.push(next - at);
            at = next;
        }
        assert_eq!(gaps, [60, 300, 1_800, 7_200, 86_400]);
        assert_eq!(next_attempt(MAX_ATTEMPTS, at, None), None);
        assert_eq!(next_attempt(0, at, None), None);
        // The whole schedule: about 26.6 hours.
        assert_eq!(gaps.iter().sum::<u64>(), 95_760);
    }

    #[test]
    fn retry_after_only_pushes_later_and_at_most_a_day() {
        assert_eq!(next_attempt(1, 0, Some(10)), Some(60), "never earlier");
        assert_eq!(next_attempt(1, 0, Some(3_600)), Some(3_600));
        assert_eq!(
            next_attempt(1, 0, Some(10 * 86_400)),
            Some(60 + 86_400),
            "at most 24 h beyond the schedule"
        );
        assert_eq!(next_attempt(MAX_ATTEMPTS, 0, Some(5)), None);
    }
}
