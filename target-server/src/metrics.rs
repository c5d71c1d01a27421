//! Prometheus metrics: requests and latency by method and status, shedding, queue depth,
//! trajectories written and events accepted, agent tasks (`/a2a`: generating, ended by state,
//! chunks streamed), rows evicted by retention (trajectories, events, workflows, executions,
//! finished jobs and agent tasks), MCP sessions (open, opened, closed by reason) and MCP
//! messages by method. Job counts by state
//! and the store's size are read from the store at scrape time ([`StoreScrape`]), so they are
//! always what the database holds.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::config::METHODS;
use crate::store::{Evicted, StoreSize};

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Label used for calls to a method the server does not know (bounds label cardinality).
pub const UNKNOWN_METHOD: &str = "unknown";

#[derive(Default)]
struct LatencyHistogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, LatencyHistogram>>,
    shed: AtomicU64,
    trajectories: AtomicU64,
    events: AtomicU64,
    evicted_trajectories: AtomicU64,
    evicted_events: AtomicU64,
    evicted_workflows: AtomicU64,
    evicted_executions: AtomicU64,
    evicted_jobs: AtomicU64,
    evicted_agent_tasks: AtomicU64,
    agent_tasks_completed: AtomicU64,
    agent_tasks_canceled: AtomicU64,
    agent_chunks_streamed: AtomicU64,
    /// Agent answers being generated right now (tasks `working`).
    pub agent_generations: AtomicUsize,
    /// Requests waiting for a capacity slot right now.
    pub queue_depth: AtomicUsize,
    /// Requests holding a capacity slot right now.
    pub in_flight: AtomicUsize,
    /// MCP sessions open right now (kept by [`crate::mcp::Sessions`]).
    pub mcp_sessions_open: AtomicUsize,
    mcp_sessions_opened: AtomicU64,
    mcp_sessions_deleted: AtomicU64,
    mcp_sessions_expired: AtomicU64,
    /// MCP messages received, by JSON-RPC method (a bounded set of labels).
    mcp_requests: Mutex<BTreeMap<&'static str, u64>>,
    /// The LLM endpoints' series (`target_llm_*`, [`crate::llm_metrics`]).
    pub llm: crate::llm_metrics::LlmMetrics,
}

/// Why an MCP session ended, for `target_mcp_sessions_closed_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The client sent `DELETE /mcp`.
    Deleted,
    /// It was idle past `--mcp-session-idle-s`.
    Expired,
}

/// The static label for a method name (known methods keep their name).
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or(UNKNOWN_METHOD)
}

impl Metrics {
    pub fn observe(&self, method: &str, status: u16, elapsed: Duration) {
        self.observe_label(method_label(method), status, elapsed);
    }

    /// [`Metrics::observe`] under a label the caller already bounded (the MCP API's own
    /// labels, e.g. `mcp.tools/list`, which are not latency-table methods).
    pub fn observe_label(&self, label: &'static str, status: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .expect("metrics poisoned")
            .entry((label, status))
            .or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().expect("metrics poisoned");
        let h = latency.entry(label).or_default();
        h.count += 1;
        h.sum_seconds += seconds;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
    }

    pub fn add_mcp_session_opened(&self) {
        self.mcp_sessions_opened.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_mcp_sessions_closed(&self, why: SessionEnd, n: u64) {
        let counter = match why {
            SessionEnd::Deleted => &self.mcp_sessions_deleted,
            SessionEnd::Expired => &self.mcp_sessions_expired,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// One MCP message with a method (request or notification), under a bounded label.
    pub fn add_mcp_request(&self, method: &'static str) {
        *self
            .mcp_requests
            .lock()
            .expect("metrics poisoned")
            .entry(method)
            .or_default() += 1;
    }

    pub fn add_shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_trajectories(&self, n: u64) {
        self.trajectories.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_events(&self, n: u64) {
        self.events.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_evictions(&self, evicted: &Evicted) {
        for (counter, n) in [
            (&self.evicted_trajectories, evicted.trajectories),
            (&self.evicted_events, evicted.events),
            (&self.evicted_workflows, evicted.workflows),
            (&self.evicted_executions, evicted.executions),
            (&self.evicted_jobs, evicted.jobs),
            (&self.evicted_agent_tasks, evicted.agent_tasks),
        ] {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// An agent task ended: `completed` true when its whole answer was generated, false when
    /// it was canceled (by `tasks/cancel` or because its client went away).
    pub fn add_agent_task_ended(&self, completed: bool) {
        let counter = if completed {
            &self.agent_tasks_completed
        } else {
            &self.agent_tasks_canceled
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_agent_chunk_streamed(&self) {
        self.agent_chunks_streamed.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with what the store holds supplied by the caller.
    pub fn render(&self, store: &StoreScrape) -> String {
        let jobs_by_state = &store.jobs_by_state;
        let mut out = String::new();
        out.push_str("# HELP target_server_requests_total Requests answered, by method (JSON-RPC call or REST route) and HTTP status.\n");
        out.push_str("# TYPE target_server_requests_total counter\n");
        for ((method, status), n) in self.requests.lock().expect("metrics poisoned").iter() {
            let _ = writeln!(
                out,
                "target_server_requests_total{{method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP target_server_request_duration_seconds Time from request to response, by method.\n");
        out.push_str("# TYPE target_server_request_duration_seconds histogram\n");
        for (method, h) in self.latency.lock().expect("metrics poisoned").iter() {
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.buckets.iter()) {
                cumulative += n;
                let _ = writeln!(out, "target_server_request_duration_seconds_bucket{{method=\"{method}\",le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "target_server_request_duration_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(
                out,
                "target_server_request_duration_seconds_sum{{method=\"{method}\"}} {}",
                h.sum_seconds
            );
            let _ = writeln!(
                out,
                "target_server_request_duration_seconds_count{{method=\"{method}\"}} {}",
                h.count
            );
        }
        out.push_str(
            "# HELP target_server_jobs Training jobs by state.\n# TYPE target_server_jobs gauge\n",
        );
        for state in ["queued", "running", "completed", "failed", "cancelled"] {
            let n = jobs_by_state
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "target_server_jobs{{state=\"{state}\"}} {n}");
        }
        let scalar = |out: &mut String, name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        scalar(
            &mut out,
            "target_server_trajectories_written_total",
            "counter",
            "Trajectories written by the simulated trainers.",
            self.trajectories.load(Ordering::Relaxed),
        );
        scalar(
            &mut out,
            "target_server_events_accepted_total",
            "counter",
            "Orchestration events accepted and committed.",
            self.events.load(Ordering::Relaxed),
        );
        labelled_counter(
            &mut out,
            "target_server_agent_tasks_total",
            "Agent tasks that ended, by final state.",
            "state",
            &[
                ("completed", &self.agent_tasks_completed),
                ("canceled", &self.agent_tasks_canceled),
            ],
        );
        scalar(
            &mut out,
            "target_server_agent_generations",
            "gauge",
            "Agent answers being generated (tasks in state working); each holds a capacity slot.",
            self.agent_generations.load(Ordering::Relaxed) as u64,
        );
        scalar(
            &mut out,
            "target_server_agent_chunks_streamed_total",
            "counter",
            "Answer chunks sent as artifact-update events by message/stream.",
            self.agent_chunks_streamed.load(Ordering::Relaxed),
        );
        scalar(
            &mut out,
            "target_server_shed_requests_total",
            "counter",
            "Requests refused with 429 because capacity and queue were full.",
            self.shed.load(Ordering::Relaxed),
        );
        scalar(
            &mut out,
            "target_server_queue_depth",
            "gauge",
            "Requests waiting for a capacity slot.",
            self.queue_depth.load(Ordering::Relaxed) as u64,
        );
        scalar(
            &mut out,
            "target_server_in_flight",
            "gauge",
            "Requests holding a capacity slot.",
            self.in_flight.load(Ordering::Relaxed) as u64,
        );
        scalar(
            &mut out,
            "target_mcp_sessions_open",
            "gauge",
            "MCP sessions open (opened by initialize, not deleted, not expired).",
            self.mcp_sessions_open.load(Ordering::Relaxed) as u64,
        );
        scalar(
            &mut out,
            "target_mcp_sessions_opened_total",
            "counter",
            "MCP sessions opened by initialize.",
            self.mcp_sessions_opened.load(Ordering::Relaxed),
        );
        labelled_counter(
            &mut out,
            "target_mcp_sessions_closed_total",
            "MCP sessions that ended, by reason.",
            "reason",
            &[
                ("deleted", &self.mcp_sessions_deleted),
                ("expired", &self.mcp_sessions_expired),
            ],
        );
        out.push_str("# HELP target_mcp_requests_total MCP messages received (requests and notifications), by JSON-RPC method.\n");
        out.push_str("# TYPE target_mcp_requests_total counter\n");
        for (method, n) in self.mcp_requests.lock().expect("metrics poisoned").iter() {
            let _ = writeln!(out, "target_mcp_requests_total{{method=\"{method}\"}} {n}");
        }
        out.push_str("# HELP target_server_evictions_total Rows deleted by retention, by table.\n");
        out.push_str("# TYPE target_server_evictions_total counter\n");
        for (table, counter) in [
            ("trajectories", &self.evicted_trajectories),
            ("events", &self.evicted_events),
            ("workflows", &self.evicted_workflows),
            ("executions", &self.evicted_executions),
            ("jobs", &self.evicted_jobs),
            ("agent_tasks", &self.evicted_agent_tasks),
        ] {
            let n = counter.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "target_server_evictions_total{{table=\"{table}\"}} {n}"
            );
        }
        out.push_str("# HELP target_server_store_rows Rows in the store, by table.\n");
        out.push_str("# TYPE target_server_store_rows gauge\n");
        for (table, n) in [
            ("trajectories", store.trajectories),
            ("events", store.events),
            ("jobs", store.size.jobs),
            ("workflows", store.workflows),
            ("executions", store.executions),
            ("agent_tasks", store.agent_tasks),
        ] {
            let _ = writeln!(out, "target_server_store_rows{{table=\"{table}\"}} {n}");
        }
        scalar(
            &mut out,
            "target_server_store_bytes",
            "gauge",
            "Size of the database (page_count * page_size); for a file, its length without the -wal file.",
            store.size.bytes,
        );
        scalar(
            &mut out,
            "target_server_store_free_bytes",
            "gauge",
            "Bytes of free pages in the database, reused by new rows before the file grows.",
            store.size.free_bytes,
        );
        self.llm.render(&mut out);
        out
    }
}

/// Writes a counter with one label: its help and type, then a sample per label value.
fn labelled_counter(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    samples: &[(&str, &AtomicU64)],
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (value, counter) in samples {
        let n = counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

/// What the store holds at scrape time.
#[derive(Debug, Clone, Default)]
pub struct StoreScrape {
    pub jobs_by_state: Vec<(String, i64)>,
    pub size: StoreSize,
    pub trajectories: u64,
    pub events: u64,
    pub workflows: u64,
    pub executions: u64,
    pub agent_tasks: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let m = Metrics::default();
        m.observe("training.nope", 200, Duration::from_millis(1));
        m.observe("x", 200, Duration::from_millis(1));
        let text = m.render(&StoreScrape::default());
        assert!(text.contains("target_server_requests_total{method=\"unknown\",status=\"200\"} 2"));
    }

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.observe("training.get_status", 200, Duration::from_millis(3));
        let text = m.render(&StoreScrape::default());
        assert!(text.contains("method=\"training.get_status\",le=\"0.0025\"} 0"));
        assert!(text.contains("method=\"training.get_status\",le=\"0.005\"} 1"));
        assert!(text.contains("method=\"training.get_status\",le=\"+Inf\"} 1"));
    }
}
