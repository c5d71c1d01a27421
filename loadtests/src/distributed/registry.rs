//! The manager's view of its workers: who is there, their latest cumulative report, their
//! series, and who was lost when. Merging the latest reports is the run's result.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reports::{RunResult, SecondSample, WorkerContribution};

use super::protocol::Report;

pub struct WorkerRecord {
    pub id: String,
    pub address: Option<String>,
    pub joined_at: DateTime<Utc>,
    pub last_seen: Instant,
    pub lost_at: Option<DateTime<Utc>>,
    pub last_seq: Option<u64>,
    /// The latest cumulative report's result, without its series.
    pub latest: Option<RunResult>,
    /// Finished seconds, merged by overwriting (a finished second never changes).
    pub series: BTreeMap<i64, SecondSample>,
    pub active_users: u64,
    pub final_received: bool,
}

impl WorkerRecord {
    pub fn is_lost(&self) -> bool {
        self.lost_at.is_some()
    }

    /// This worker's whole result: its latest totals with every second it reported.
    pub fn result(&self) -> Option<RunResult> {
        let mut r = self.latest.clone()?;
        r.series = self.series.values().cloned().collect();
        let overall = r.overall();
        r.workers = vec![WorkerContribution {
            worker_id: self.id.clone(),
            address: self.address.clone(),
            requests: overall.requests,
            failures: overall.failures,
            joined_at: self.joined_at,
            lost_at: self.lost_at,
            resources: r.resources.clone(),
        }];
        Some(r)
    }
}

/// What happened to a report.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Newer than anything seen: totals replaced.
    Fresh,
    /// Repeated or out of order: only its series seconds were kept (idempotent).
    Stale,
    /// From a worker that was lost: it is back, its cumulative totals count once.
    Returned,
}

#[derive(Default)]
pub struct Registry {
    /// In registration order: the rank used to share users.
    workers: Vec<WorkerRecord>,
}

impl Registry {
    /// Registers a worker; `false` when the id is already known (a restart or a retry).
    pub fn register(&mut self, id: &str, address: Option<String>) -> bool {
        if let Some(w) = self.workers.iter_mut().find(|w| w.id == id) {
            w.last_seen = Instant::now();
            w.lost_at = None;
            if address.is_some() {
                w.address = address;
            }
            return false;
        }
        self.workers.push(WorkerRecord {
            id: id.to_string(),
            address,
            joined_at: Utc::now(),
            last_seen: Instant::now(),
            lost_at: None,
            last_seq: None,
            latest: None,
            series: BTreeMap::new(),
            active_users: 0,
            final_received: false,
        });
        true
    }

    pub fn get(&self, id: &str) -> Option<&WorkerRecord> {
        self.workers.iter().find(|w| w.id == id)
    }

    pub fn accept(&mut self, report: Report) -> Option<Accepted> {
        let w = self.workers.iter_mut().find(|w| w.id == report.worker_id)?;
        w.last_seen = Instant::now();
        let returned = w.lost_at.take().is_some();
        for s in &report.result.series {
            w.series.insert(s.unix_second, s.clone());
        }
        let fresh = w.last_seq.is_none_or(|seq| report.seq > seq);
        if fresh {
            w.last_seq = Some(report.seq);
            w.active_users = report.active_users;
            w.final_received |= report.final_report;
            let mut totals = report.result;
            totals.series.clear();
            w.latest = Some(totals);
        }
        Some(if returned {
            Accepted::Returned
        } else if fresh {
            Accepted::Fresh
        } else {
            Accepted::Stale
        })
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
    pub fn active(&self) -> Vec<&WorkerRecord> {
        self.workers
            .iter()
            .filter(|w| !w.is_lost() && !w.final_received)
            .collect()
    }

    pub fn all(&self) -> &[WorkerRecord] {
        &self.workers
    }

    /// Every worker's whole result (lost ones with their last report).
    pub fn results(&self) -> Vec<RunResult> {
        self.workers
            .iter()
            .filter_map(WorkerRecord::result)
            .collect()
    }

    pub fn active_users(&self) -> u64 {
        self.active().iter().map(|w| w.active_users).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reports::synthetic::synthetic_run;
    use reports::LatencyHistogram;

    fn report(worker: &str, seq: u64, samples: &[u64], seconds: std::ops::Range<i64>) -> Report {
        let mut result = synthetic_run(2, 1, 1);
        result.requests[0].requests = samples.len() as u64;
        result.requests[0].failures = 0;
        result.requests[0].latency = LatencyHistogram::new();
        samples
            .iter()
            .for_each(|&s| result.requests[0].latency.record(s));
        result.series = seconds
            .map(|t| {
                let mut s = SecondSample::empty(t);
                s.requests = 1;
                s
            })
            .collect();
        result.failures.clear();
        Report {
            worker_id: worker.into(),
            run_id: "run".into(),
            seq,
            scenario_hash: result.metadata.scenario_hash.clone(),
            active_users: 1,
            result,
            final_report: false,
        }
    }

    fn merged(registry: &Registry) -> RunResult {
        reports::merge(&registry.results()).unwrap()
    }

    #[test]
    fn a_dropped_or_repeated_report_changes_nothing() {
        let samples: Vec<u64> = (1..=300).map(|i| i * 97).collect();
        let mut every = Registry::default();
        let mut lossy = Registry::default();
        every.register("w", None);
        lossy.register("w", None);
        for seq in 0..3u64 {
            let upto = 100 * (seq as usize + 1);
            let r = report("w", seq, &samples[..upto], 0..(seq as i64 + 3));
            every.accept(r.clone());
            if seq != 1 {
                // Report 1 is lost; report 2 arrives twice, and report 0 again after it.
                lossy.accept(r.clone());
                lossy.accept(r);
            }
        }
        assert_eq!(
            lossy.accept(report("w", 0, &samples[..100], 0..3)),
            Some(Accepted::Stale)
        );
        let (a, b) = (merged(&every), merged(&lossy));
        assert_eq!(a.overall().requests, 300);
        assert_eq!(a.requests, b.requests);
        assert_eq!(a.series, b.series);
    }

    #[test]
    fn merged_percentiles_equal_one_histogram_of_all_samples() {
        let mut registry = Registry::default();
        let mut all = LatencyHistogram::new();
        for (i, worker) in ["a", "b", "c"].into_iter().enumerate() {
            registry.register(worker, None);
            let samples: Vec<u64> = (0..500)
                .map(|k| 1 + (k * 7919 + i as u64 * 104_729) % 250_000)
                .collect();
            samples.iter().for_each(|&s| all.record(s));
            registry.accept(report(worker, 0, &samples, 0..2));
        }
        let m = merged(&registry);
        for q in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(
                m.overall().latency.value_at_quantile(q),
                all.value_at_quantile(q)
            );
        }
        assert_eq!(m.workers.len(), 3);
    }

    #[test]
    fn a_silent_worker_is_lost_and_counted_once_when_it_returns() {
        let mut registry = Registry::default();
        registry.register("w", None);
        registry.accept(report("w", 0, &[1000; 50], 0..2));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            registry.mark_lost(Duration::from_millis(10)),
            vec!["w".to_string()]
        );
        assert!(registry.active().is_empty());
        assert_eq!(
            registry.accept(report("w", 1, &[1000; 80], 0..4)),
            Some(Accepted::Returned)
        );
        assert_eq!(merged(&registry).overall().requests, 80);
        assert_eq!(registry.active().len(), 1);
    }
}
