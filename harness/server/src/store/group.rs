//! Group commit, the part every backend shares: writes that arrive while another group is
//! being written wait, and are then written together, by one of their own writers.
//!
//! There is no timer and no thread of its own. A writer queues its write and, if no group
//! is being written, writes everything queued so far as one group (it leads); otherwise
//! it waits, and the writes that arrive meanwhile form the next group, written by one of
//! the waiting writers. The window is therefore the previous group's own duration: a lone
//! write is written at once; under load, groups grow by themselves. How a group is written (one transaction with a
//! savepoint per write on SQLite, one statement for many results on PostgreSQL) is the
//! backend's; a caller returns only once its own write's result is in (committed, or
//! failed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::StoreError;

/// The largest group: bounds one transaction's size and how long it holds its locks.
const MAX_GROUP: usize = 512;

/// One write of a group, by ticket, and what it came to.
pub(super) type Outcome<R> = (u64, Result<R, StoreError>);

struct State<W, R> {
    queued: Vec<(u64, W)>,
    done: HashMap<u64, Result<R, StoreError>>,
    next_ticket: u64,
    /// A group is being written now.
    leading: bool,
}

/// The queue of writes waiting for a group, and the results of written groups.
pub(super) struct GroupCommit<W, R> {
    state: Mutex<State<W, R>>,
    committed: Condvar,
    /// Groups written (or tried) so far.
    groups: AtomicU64,
}

impl<W, R> Default for GroupCommit<W, R> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                queued: Vec::new(),
                done: HashMap::new(),
                next_ticket: 0,
                leading: false,
            }),
            committed: Condvar::new(),
            groups: AtomicU64::new(0),
        }
    }
}

impl<W, R> GroupCommit<W, R> {
    /// Queues `write` and returns its result once its group is written: by `commit`,
    /// called with a group (this write or others, at most [`MAX_GROUP`]) and one result
    /// per write in the same order, each an error until `commit` sets it.
    pub(super) fn write(
        &self,
        write: W,
        mut commit: impl FnMut(&[(u64, W)], &mut [Outcome<R>]),
    ) -> Result<R, StoreError> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queued.push((ticket, write));
        loop {
            if let Some(result) = state.done.remove(&ticket) {
                return result;
            }
            // A group being written, or nothing queued (this write is in the group
            // being written): wait for it to end. Otherwise lead what is queued, this
            // write or others'.
            if state.leading || state.queued.is_empty() {
                state = self
                    .committed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            state.leading = true;
            let take = state.queued.len().min(MAX_GROUP);
            let group: Vec<(u64, W)> = state.queued.drain(..take).collect();
            drop(state);
            // Whatever happens in the commit (even a panic), the group's writers get a
            // result and the next group gets a leader.
            let mut lead = Lead {
                owner: self,
                results: group
                    .iter()
                    .map(|(t, _)| {
                        let lost = StoreError::Database("the group commit was cut off".into());
                        (*t, Err(lost))
                    })
                    .collect(),
            };
            self.groups.fetch_add(1, Ordering::Relaxed);
            commit(&group, &mut lead.results);
            drop(lead);
            state = self.lock();
        }
    }

    /// How many groups were written (or tried) so far.
    #[cfg(test)]
    pub(super) fn groups(&self) -> u64 {
        self.groups.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State<W, R>> {
        // The state is a queue and a map, consistent between statements: a panic elsewhere
        // cannot leave it half-changed.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The leader's duty: on drop, hand the results over and wake every waiting writer.
struct Lead<'a, W, R> {
    owner: &'a GroupCommit<W, R>,
    results: Vec<Outcome<R>>,
}

impl<W, R> Drop for Lead<'_, W, R> {
    fn drop(&mut self) {
        let mut state = self.owner.lock();
        state.leading = false;
        state.done.extend(self.results.drain(..));
        drop(state);
        self.owner.committed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    /// Writes that arrive while a group is being written are written together next, each
    /// writer gets its own write's result, and a write that fails fails alone.
    #[test]
    fn writes_arriving_during_a_group_form_the_next_one() {
        let group: Arc<GroupCommit<u32, u32>> = Arc::default();
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let first_in = Arc::new(Barrier::new(2));
        let others_queued = Arc::new(Barrier::new(2));
        let commit = |sizes: Arc<Mutex<Vec<usize>>>| {
            move |writes: &[(u64, u32)], results: &mut [Outcome<u32>]| {
                sizes.lock().unwrap().push(writes.len());
                for ((_, w), (_, r)) in writes.iter().zip(results.iter_mut()) {
                    *r = if *w == 13 {
                        Err(StoreError::Database("unlucky".into()))
                    } else {
                        Ok(w * 2)
                    };
                }
            }
        };
        let leader = {
            let (group, sizes) = (Arc::clone(&group), Arc::clone(&sizes));
            let (first_in, others_queued) = (Arc::clone(&first_in), Arc::clone(&others_queued));
            std::thread::spawn(move || {
                let inner = commit(sizes);
                group.write(1, |writes, results| {
                    first_in.wait();
                    others_queued.wait();
                    inner(writes, results);
                })
            })
        };
        first_in.wait();
        let followers: Vec<_> = [2, 13, 4]
            .into_iter()
            .map(|w| {
                let (group, sizes) = (Arc::clone(&group), Arc::clone(&sizes));
                std::thread::spawn(move || group.write(w, commit(sizes)))
            })
            .collect();
        while group.lock().queued.len() < 3 {
            std::thread::yield_now();
        }
        others_queued.wait();
        assert_eq!(leader.join().unwrap().unwrap(), 2);
        let got: Vec<_> = followers.into_iter().map(|f| f.join().unwrap()).collect();
        assert_eq!(got[0].as_ref().unwrap(), &4);
        assert!(got[1].is_err(), "the failed write fails alone");
        assert_eq!(got[2].as_ref().unwrap(), &8);
        assert_eq!(*sizes.lock().unwrap(), [1, 3]);
        assert_eq!(group.groups(), 2);
    }
}
