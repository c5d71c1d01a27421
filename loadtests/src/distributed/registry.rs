//! The manager's view of its workers: who is there, which of their reports it applied, and
//! the merged totals those reports add up to.
//!
//! Reports are applied as they come, into one [`Totals`] for all workers: the merged result
//! is always current, and nothing is re-merged when it is read (see `super::totals`). Per
//! worker only small things are kept: its report chain's position and its own cumulative
//! totals for the workers table.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reports::{GeneratorResources, WorkerContribution};

use super::protocol::Report;
use super::totals::Totals;

pub struct WorkerRecord {
    pub id: String,
    pub address: Option<String>,
    pub joined_at: DateTime<Utc>,
    pub last_seen: Instant,
    pub lost_at: Option<DateTime<Utc>>,
    /// The worker process whose report chain is being applied.
    session: Option<u64>,
    /// The newest report of that session applied to the merged totals.
    applied: Option<u64>,
    /// Requests and failures of this id's earlier sessions (a restarted worker process).
    earlier: (u64, u64),
    /// The current session's own cumulative totals, from its newest applied report.
    requests: u64,
    failures: u64,
    pub resources: GeneratorResources,
    pub machine_cores: u32,
    /// The newest second of its series the merged totals have from it.
    pub newest_second: Option<i64>,
    pub active_users: u64,
    pub final_received: bool,
}

impl WorkerRecord {
    pub fn is_lost(&self) -> bool {
        self.lost_at.is_some()
    }

    pub fn has_reported(&self) -> bool {
        self.applied.is_some() || self.earlier != (0, 0)
    }

    /// This worker's line of the report's workers table.
    pub fn contribution(&self) -> WorkerContribution {
        WorkerContribution {
            worker_id: self.id.clone(),
            address: self.address.clone(),
            requests: self.earlier.0 + self.requests,
            failures: self.earlier.1 + self.failures,
            joined_at: self.joined_at,
            lost_at: self.lost_at,
            resources: self.resources.clone(),
        }
    }
}

/// What happened to a report.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Built on the state held for the worker: applied.
    Fresh,
    /// Repeated, late, or built on another state: nothing changed.
    Stale,
    /// From a worker that was lost: it is back (and the report applied if it was fresh).
    Returned,
}

pub struct Registry {
    /// In registration order: the rank used to share users.
    workers: Vec<WorkerRecord>,
    /// Each id's place in `workers`: a report finds its worker in constant time, not by a
    /// walk over every worker (which, at thousands of workers, each reporting every second,
    /// made the manager's cost per report grow with the number of workers).
    index: HashMap<String, usize>,
    merged: Totals,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Registry {
        Registry {
            workers: Vec::new(),
            index: HashMap::new(),
            merged: Totals::new(),
        }
    }

    /// Registers a worker; `false` when the id is already known (a restart or a retry).
    pub fn register(&mut self, id: &str, address: Option<String>) -> bool {
        if let Some(w) = self.index.get(id).map(|&i| &mut self.workers[i]) {
            w.last_seen = Instant::now();
            w.lost_at = None;
            if address.is_some() {
                w.address = address;
            }
            return false;
        }
        self.index.insert(id.to_string(), self.workers.len());
        self.workers.push(WorkerRecord {
            id: id.to_string(),
            address,
            joined_at: Utc::now(),
            last_seen: Instant::now(),
            lost_at: None,
            session: None,
            applied: None,
            earlier: (0, 0),
            requests: 0,
            failures: 0,
            resources: GeneratorResources::default(),
            machine_cores: 0,
            newest_second: None,
            active_users: 0,
            final_received: false,
        });
        true
    }

    pub fn get(&self, id: &str) -> Option<&WorkerRecord> {
        self.index.get(id).map(|&i| &self.workers[i])
    }

    /// Applies `report` if it is built on the state held for its worker; returns what
    /// happened and the report now held (the worker's next base). `None`: unknown worker.
    pub fn accept(&mut self, report: &Report) -> Option<(Accepted, Option<u64>)> {
        let w = &mut self.workers[*self.index.get(&report.worker_id)?];
        w.last_seen = Instant::now();
        let returned = w.lost_at.take().is_some();
        if w.session != Some(report.session) {
            // A new worker process under this id: what the old one reported still counts.
            w.earlier.0 += w.requests;
            w.earlier.1 += w.failures;
            (w.requests, w.failures) = (0, 0);
            w.session = Some(report.session);
            w.applied = None;
        }
        let fresh = report.base == w.applied && w.applied.is_none_or(|a| report.seq > a);
        if fresh {
            self.merged.apply(&report.change);
            w.applied = Some(report.seq);
            w.requests = report.requests;
            w.failures = report.failures;
            w.resources = report.resources.clone();
            w.machine_cores = report.machine_cores;
            w.active_users = report.active_users;
            w.final_received |= report.final_report;
            let newest = report.change.seconds.iter().map(|s| s.unix_second).max();
            w.newest_second = w.newest_second.max(newest);
        }
        let accepted = if returned {
            Accepted::Returned
        } else if fresh {
            Accepted::Fresh
        } else {
            Accepted::Stale
        };
        Some((accepted, w.applied))
    }

    /// Marks workers silent for longer than `timeout` as lost; returns the newly lost.
    pub fn mark_lost(&mut self, timeout: Duration) -> Vec<String> {
        let mut lost = Vec::new();
        for w in &mut self.workers {
            if w.lost_at.is_none() && !w.final_received && w.last_seen.elapsed() > timeout {
                w.lost_at = Some(Utc::now());
                lost.push(w.id.clone());
            }
        }
        lost
    }

    /// Workers neither lost nor finished (final report received), in registration order.
    pub fn active(&self) -> impl Iterator<Item = &WorkerRecord> {
        self.workers
            .iter()
            .filter(|w| !w.is_lost() && !w.final_received)
    }

    pub fn all(&self) -> &[WorkerRecord] {
        &self.workers
    }

    pub fn lost(&self) -> usize {
        self.workers.iter().filter(|w| w.is_lost()).count()
    }

    /// Every worker's reports added up.
    pub fn merged(&self) -> &Totals {
        &self.merged
    }

    /// The newest second every active worker that has sent seconds has reported: the newest
    /// second whose merged sample is complete (later seconds still lack some workers). When
    /// every worker has finished or been lost, the newest second any of them reported.
    pub fn complete_second(&self) -> Option<i64> {
        let active = self.active().filter_map(|w| w.newest_second).min();
        active.or_else(|| self.merged.newest_second())
    }

    /// Compacts the merged seconds no worker will add to any more (see
    /// [`Totals::compact_before`]); a late addition inflates one again, exactly.
    pub fn settle(&mut self) {
        if let Some(second) = self.complete_second() {
            self.merged.compact_before(second);
        }
    }

    pub fn active_users(&self) -> u64 {
        self.active().map(|w| w.active_users).sum()
    }

    pub fn has_reports(&self) -> bool {
        self.workers.iter().any(WorkerRecord::has_reported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::outbox::Outbox;
    use crate::distributed::totals::Measurements;
    use reports::{LatencyHistogram, RequestStats, SecondSample};

    /// A worker's cumulative measurements after `samples`, one second per 100 samples.
    fn measured(samples: &[u64]) -> Measurements {
        let mut r = RequestStats::new("GET", "n");
        let mut seconds: Vec<SecondSample> = Vec::new();
        for (i, &v) in samples.iter().enumerate() {
            r.requests += 1;
            r.latency.record(v);
            let t = 1_000 + (i / 100) as i64;
            if seconds.last().is_none_or(|s| s.unix_second != t) {
                seconds.push(SecondSample::empty(t));
            }
            let s = seconds.last_mut().unwrap();
            s.requests += 1;
            s.latency.record(v);
        }
        seconds.iter_mut().for_each(SecondSample::compact);
        Measurements {
            requests: vec![r],
            failures: Vec::new(),
            seconds,
            dropped_arrivals: 0,
            skipped: Vec::new(),
        }
    }

    /// A simulated worker process: its outbox and session.
    struct Worker {
        id: &'static str,
        session: u64,
        outbox: Outbox,
    }

    impl Worker {
        fn new(id: &'static str, session: u64) -> Worker {
            Worker {
                id,
                session,
                outbox: Outbox::new(),
            }
        }

        fn report(&mut self, now: &Measurements) -> Report {
            let out = self.outbox.next(now);
            let overall: u64 = now.requests.iter().map(|r| r.requests).sum();
            Report {
                worker_id: self.id.into(),
                run_id: "run".into(),
                scenario_hash: "h".into(),
                session: self.session,
                seq: out.seq,
                base: out.base,
                final_report: false,
                active_users: 1,
                requests: overall,
                failures: 0,
                resources: GeneratorResources::default(),
                machine_cores: 2,
                change: out.change,
            }
        }

        /// Sends `report` and takes the reply.
        fn send(&mut self, registry: &mut Registry, report: &Report) -> Accepted {
            let (accepted, applied) = registry.accept(report).unwrap();
            self.outbox.replied(applied).unwrap();
            accepted
        }
    }

    #[test]
    fn a_dropped_repeated_or_late_report_changes_nothing() {
        let samples: Vec<u64> = (1..=400).map(|i| i * 97).collect();
        let (mut every, mut lossy) = (Registry::new(), Registry::new());
        every.register("w", None);
        lossy.register("w", None);
        let (mut a, mut b) = (Worker::new("w", 1), Worker::new("w", 1));
        let mut late = Vec::new();
        for step in 1..=4 {
            let now = measured(&samples[..100 * step]);
            let r = a.report(&now);
            a.send(&mut every, &r);
            let r = b.report(&now);
            match step {
                2 => late.push(r), // lost for now, arrives after report 3
                3 => {
                    assert_eq!(b.send(&mut lossy, &r), Accepted::Fresh);
                    assert_eq!(b.send(&mut lossy, &r), Accepted::Stale, "repeated");
                    assert_eq!(b.send(&mut lossy, &late[0]), Accepted::Stale, "late");
                }
                _ => {
                    b.send(&mut lossy, &r);
                }
            }
        }
        let (x, y) = (every.merged(), lossy.merged());
        assert_eq!(x.overall().requests, 400);
        assert_eq!(x.requests(), y.requests());
        assert_eq!(x.series(), y.series());
        assert_eq!(x.requests(), measured(&samples).requests);
        assert_eq!(x.series(), measured(&samples).seconds);
        assert_eq!(lossy.all()[0].contribution().requests, 400);
    }

    #[test]
    fn merged_percentiles_equal_one_histogram_of_all_samples() {
        let mut registry = Registry::new();
        let mut all = LatencyHistogram::new();
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            registry.register(id, None);
            let samples: Vec<u64> = (0..500)
                .map(|k| 1 + (k * 7919 + i as u64 * 104_729) % 250_000)
                .collect();
            samples.iter().for_each(|&s| all.record(s));
            let mut w = Worker::new(id, i as u64);
            for upto in [120, 500] {
                let r = w.report(&measured(&samples[..upto]));
                w.send(&mut registry, &r);
            }
        }
        let m = registry.merged().overall();
        for q in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(m.latency.value_at_quantile(q), all.value_at_quantile(q));
        }
        assert_eq!(registry.all().len(), 3);
    }

    #[test]
    fn a_silent_worker_is_lost_and_counted_once_when_it_returns() {
        let mut registry = Registry::new();
        registry.register("w", None);
        let mut w = Worker::new("w", 7);
        let r = w.report(&measured(&[1000; 50]));
        w.send(&mut registry, &r);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            registry.mark_lost(Duration::from_millis(10)),
            vec!["w".to_string()]
        );
        assert_eq!(registry.active().count(), 0);
        let r = w.report(&measured(&[1000; 80]));
        assert_eq!(w.send(&mut registry, &r), Accepted::Returned);
        assert_eq!(registry.merged().overall().requests, 80);
        assert_eq!(registry.active().count(), 1);
    }

    #[test]
    fn a_restarted_worker_process_adds_to_what_the_old_one_reported() {
        let mut registry = Registry::new();
        registry.register("w", None);
        let mut old = Worker::new("w", 1);
        let r = old.report(&measured(&[500; 30]));
        old.send(&mut registry, &r);
        let mut new = Worker::new("w", 2);
        let r = new.report(&measured(&[700; 20]));
        assert_eq!(new.send(&mut registry, &r), Accepted::Fresh);
        assert_eq!(registry.merged().overall().requests, 50);
        assert_eq!(registry.all()[0].contribution().requests, 50);
    }

    #[test]
    fn the_complete_second_is_the_newest_every_active_worker_reported() {
        let mut registry = Registry::new();
        let samples = [900; 300];
        let mut workers = [Worker::new("a", 1), Worker::new("b", 2)];
        for (w, upto) in workers.iter_mut().zip([300, 150]) {
            registry.register(w.id, None);
            let r = w.report(&measured(&samples[..upto]));
            w.send(&mut registry, &r);
        }
        // a reported seconds 1000..=1002, b only 1000..=1001.
        assert_eq!(registry.complete_second(), Some(1001));
        assert_eq!(registry.merged().second(1001).unwrap().requests, 150);
        registry.settle();
        assert_eq!(registry.merged().newest_second(), Some(1002));
    }
}
