//! Fair claims, the part every backend shares (see [`QueueStore::claim_due`]): how many
//! of a claim's slots each endpoint's queue gets, in turns, and the loop that hands the
//! turns out and takes them. A backend reads the queues and takes an endpoint's due
//! deliveries in its own SQL; the rule of who goes next lives here, once.
//!
//! [`QueueStore::claim_due`]: super::QueueStore::claim_due

use super::{Claim, StoreError};

/// One active webhook's queue, as a claim sees it.
#[derive(Debug)]
pub(super) struct EndpointQueue {
    pub webhook_id: String,
    /// Due time of its oldest pending delivery not leased (a webhook with none has no
    /// queue).
    pub head: u64,
    /// How many more leases it may hold: its in-flight limit less the unexpired leases
    /// it holds (and those this claim took).
    pub room: usize,
    /// How many this claim took.
    pub taken: usize,
    /// This claim took every due delivery it had.
    pub exhausted: bool,
}

impl EndpointQueue {
    /// A queue whose oldest unleased delivery is due at `head`, holding `held` unexpired
    /// leases under an in-flight limit of `limit`.
    pub fn new(webhook_id: String, head: u64, limit: usize, held: usize) -> Self {
        Self {
            webhook_id,
            head,
            room: limit.saturating_sub(held),
            taken: 0,
            exhausted: false,
        }
    }

    /// Can take a delivery due at `now`.
    pub fn open(&self, now: u64) -> bool {
        !self.exhausted && self.room > 0 && self.head <= now
    }
}

/// How many of `slots` claims each of `queues` gets at `now`, in turns: among the queues
/// with a due head, room left and not exhausted, one each to those that have taken the
/// fewest so far, the oldest head first; so nobody gets a k+1th before every other
/// queue that can has had its kth. A queue may hold fewer due deliveries than it is given.
fn take_turns(queues: &[EndpointQueue], now: u64, slots: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..queues.len()).filter(|&i| queues[i].open(now)).collect();
    order.sort_by(|&a, &b| {
        (queues[a].head, &queues[a].webhook_id).cmp(&(queues[b].head, &queues[b].webhook_id))
    });
    let mut given = vec![0; queues.len()];
    let mut left = slots;
    while left > 0 {
        let open = |i: usize| given[i] < queues[i].room;
        let Some(level) = order
            .iter()
            .filter(|&&i| open(i))
            .map(|&i| queues[i].taken + given[i])
            .min()
        else {
            break;
        };
        for &i in &order {
            if left > 0 && given[i] < queues[i].room && queues[i].taken + given[i] == level {
                given[i] += 1;
                left -= 1;
            }
        }
    }
    given
}

/// One turn of a round: a webhook and the tokens its leases take, in order.
pub(super) type Turn<'a> = (&'a str, &'a [String]);

/// Claims up to `log_ids.len()` deliveries from `queues` at `now`, in rounds of turns:
/// hands a round's turns out, then `take(turns)` leases, for each turn, up to its number
/// of tokens of that webhook's due deliveries, oldest due first, one under each token
/// in order, and returns them turn by turn (a backend may take a whole round in one
/// statement). A queue that held fewer due deliveries than it was given is done, and
/// what it left goes round again to the others.
pub(super) fn claim_in_turns(
    queues: &mut [EndpointQueue],
    now: u64,
    log_ids: &[String],
    mut take: impl FnMut(&[Turn<'_>]) -> Result<Vec<Vec<Claim>>, StoreError>,
) -> Result<Vec<Claim>, StoreError> {
    let mut claims: Vec<Claim> = Vec::with_capacity(log_ids.len());
    // The tokens no claim holds yet: a turn that takes fewer than it was given hands the
    // rest back for the next round.
    let mut unused: std::collections::VecDeque<String> = log_ids.iter().cloned().collect();
    loop {
        let given = take_turns(queues, now, unused.len());
        let mut round: Vec<(usize, Vec<String>)> = Vec::new();
        for (i, &n) in given.iter().enumerate() {
            if n > 0 {
                round.push((i, unused.drain(..n).collect()));
            }
        }
        if round.is_empty() {
            return Ok(claims);
        }
        let turns: Vec<Turn<'_>> = round
            .iter()
            .map(|(i, tokens)| (queues[*i].webhook_id.as_str(), tokens.as_slice()))
            .collect();
        let taken = take(&turns)?;
        for ((i, tokens), mut got) in round.into_iter().zip(taken) {
            let queue = &mut queues[i];
            queue.exhausted = got.len() < given[i];
            queue.room -= got.len();
            queue.taken += got.len();
            unused.extend(tokens.into_iter().skip(got.len()));
            claims.append(&mut got);
        }
    }
}

/// The `next_due` of a claim that took nothing: the earliest head of a queue with room,
/// or the first lease to run out (`lease_ends`), whichever comes first.
pub(super) fn next_due(queues: &[EndpointQueue], lease_ends: Option<u64>) -> Option<u64> {
    let open = queues.iter().filter(|q| q.room > 0).map(|q| q.head).min();
    match (open, lease_ends) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
