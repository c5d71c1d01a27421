//! The worker's side of incremental reports: what the manager holds of this worker, and the
//! reports sent since whose fate is not yet known.
//!
//! Every report is built on `applied`, the newest report the manager said it holds, and
//! carries the measurements minus the manager's copy ([`Totals::increment_to`]). The reply
//! names the report the manager now holds; the worker then adds that report's increment to
//! its copy. Reports sent on the same base are kept until a reply says which of them (if
//! any) was applied — at most a few, since the worker gives up on a manager silent for 5 s.
use std::collections::BTreeMap;

use super::protocol::{Increment, SERIES_TAIL_SECONDS};
use super::totals::{Measurements, Totals};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboxError {
    #[error("the manager says it holds report {0} of this worker, which was never sent on the current base: run the same skein version on both")]
    UnknownReport(u64),
}

/// One report's sequence number, base and increment, ready to be wrapped in a `Report`.
#[derive(Debug)]
pub struct Outgoing {
    pub seq: u64,
    pub base: Option<u64>,
    pub change: Increment,
}

pub struct Outbox {
    next_seq: u64,
    applied: Option<u64>,
    /// The manager's copy of this worker: every increment it applied, added up.
    held: Totals,
    /// Reports built on `applied` and sent (or about to be), by sequence number.
    pending: BTreeMap<u64, Increment>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox {
            next_seq: 0,
            applied: None,
            held: Totals::new(),
            pending: BTreeMap::new(),
        }
    }

    /// How many of the newest seconds the next report must compare, given the current unix
    /// second: the usual tail, longer when the manager's copy has fallen further behind, and
    /// all of them (`None`) when the manager holds nothing yet.
    pub fn tail_seconds(&self, now_unix: i64) -> Option<usize> {
        let newest = self.held.newest_second()?;
        let behind = usize::try_from(now_unix.saturating_sub(newest)).unwrap_or(0) + 2;
        Some(behind.max(SERIES_TAIL_SECONDS))
    }

    /// The next report: `now` minus what the manager holds.
    pub fn next(&mut self, now: &Measurements) -> Outgoing {
        let seq = self.next_seq;
        self.next_seq += 1;
        let change = self.held.increment_to(now);
        self.pending.insert(seq, change.clone());
        Outgoing {
            seq,
            base: self.applied,
            change,
        }
    }

    /// The manager replied that it holds report `applied` of this worker (or nothing).
    pub fn replied(&mut self, applied: Option<u64>) -> Result<(), OutboxError> {
        if applied == self.applied {
            return Ok(());
        }
        match applied {
            // The manager holds nothing of us (it lost or never had our state): start over
            // with a full report.
            None => {
                self.held = Totals::new();
                self.applied = None;
            }
            Some(seq) => {
                let change = self
                    .pending
                    .remove(&seq)
                    .ok_or(OutboxError::UnknownReport(seq))?;
                self.held.apply(&change);
                self.held.compact_before(i64::MAX);
                self.applied = Some(seq);
            }
        }
        // Every other pending report was built on the old base: the manager ignores them.
        self.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reports::{RequestStats, SecondSample};

    fn measured(requests: u64) -> Measurements {
        let mut r = RequestStats::new("GET", "a");
        let mut s = SecondSample::empty(100);
        for i in 0..requests {
            r.requests += 1;
            r.latency.record(1_000 + i);
            s.requests += 1;
            s.latency.record(1_000 + i);
        }
        s.compact();
        Measurements {
            requests: vec![r],
            failures: Vec::new(),
            seconds: vec![s],
            dropped_arrivals: 0,
            skipped: Vec::new(),
        }
    }

    /// Plays the manager: applies a report only on the base it holds.
    struct Manager {
        applied: Option<u64>,
        totals: Totals,
    }

    impl Manager {
        fn receive(&mut self, report: &Outgoing) -> Option<u64> {
            if report.base == self.applied {
                self.totals.apply(&report.change);
                self.applied = Some(report.seq);
            }
            self.applied
        }
    }

    #[test]
    fn lost_repeated_and_late_reports_leave_the_manager_with_the_last_totals() {
        let mut outbox = Outbox::new();
        let mut manager = Manager {
            applied: None,
            totals: Totals::new(),
        };
        let r0 = outbox.next(&measured(10));
        outbox.replied(manager.receive(&r0)).unwrap();
        // r1 is lost; r2 (same base) carries its requests too.
        let _r1 = outbox.next(&measured(20));
        let r2 = outbox.next(&measured(30));
        assert_eq!(r2.change.names[0].growth.requests, 20);
        outbox.replied(manager.receive(&r2)).unwrap();
        // r3 is applied but its reply is lost; r4 is then ignored and the reply to it names r3.
        let r3 = outbox.next(&measured(35));
        assert_eq!(manager.receive(&r3), Some(3));
        let r4 = outbox.next(&measured(40));
        assert_eq!(manager.receive(&r4), Some(3));
        outbox.replied(Some(3)).unwrap();
        // r5 goes out before a late r4 and a repeated r3 arrive: neither counts again.
        let r5 = outbox.next(&measured(41));
        outbox.replied(manager.receive(&r5)).unwrap();
        assert_eq!(manager.receive(&r4), Some(5));
        assert_eq!(manager.receive(&r3), Some(5));
        assert_eq!(manager.totals.overall().requests, 41);
        assert_eq!(
            manager.totals.overall().latency,
            measured(41).requests[0].latency
        );
        assert_eq!(manager.totals.second(100).unwrap().requests, 41);
    }

    #[test]
    fn a_manager_holding_nothing_gets_everything_again() {
        let mut outbox = Outbox::new();
        let r0 = outbox.next(&measured(10));
        outbox.replied(Some(r0.seq)).unwrap();
        assert_eq!(
            outbox.next(&measured(12)).change.names[0].growth.requests,
            2
        );
        outbox.replied(None).unwrap();
        let full = outbox.next(&measured(12));
        assert_eq!(full.base, None);
        assert_eq!(full.change.names[0].growth.requests, 12);
        assert_eq!(outbox.tail_seconds(200), None, "all seconds again");
        assert_eq!(
            outbox.replied(Some(99)),
            Err(OutboxError::UnknownReport(99))
        );
    }

    #[test]
    fn the_tail_grows_with_the_seconds_the_manager_lacks() {
        let mut outbox = Outbox::new();
        let r0 = outbox.next(&measured(1));
        outbox.replied(Some(r0.seq)).unwrap();
        assert_eq!(outbox.tail_seconds(101), Some(SERIES_TAIL_SECONDS));
        assert_eq!(outbox.tail_seconds(130), Some(32));
    }
}
