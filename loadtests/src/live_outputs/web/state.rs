//! What the dashboard knows: the attached run, its chart [`History`], the SLAs' live states
//! and, once the run ended, its verdict. [`WebState::tick`] runs once a second on the
//! dashboard's own thread and produces the [`Stats`] that `/api/stats` answers and
//! `/api/events` streams.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reports::{LatencyHistogram, RunResult, SecondSample};
use serde::Serialize;
use tokio::sync::watch;

use super::capacity::{CapacityNow, CapacityProgress};
use super::feed::{RunFeed, WorkerRow};
use super::history::{History, Point};
use crate::engine::{StopHandle, StopReason};
use crate::load_control::{edited_stages, ControlKind, LoadControl};
use crate::results::ResultInput;
use crate::scenario::{Scenario, Stage};

/// The run the dashboard shows and the controls it may use.
#[derive(Clone)]
pub struct WebRun {
    /// Where the figures come from: the run's recorder, or a manager's merged reports.
    pub feed: Arc<dyn RunFeed>,
    pub scenario: Scenario,
    pub stages: Vec<Stage>,
    pub stop: StopHandle,
    /// Open model: the arrival-rate control (closed runs have none, see docs/web-dashboard.md).
    pub load_control: Option<LoadControl>,
    /// A capacity search's steps (`skein capacity --web`).
    pub capacity: Option<CapacityProgress>,
    /// The embedded reference server's process (no `--host`): its CPU and RSS are shown.
    pub target_pid: Option<u32>,
}

/// The embedded reference server's use: a child process of its own, so read whole from
/// `/proc/PID` apart from the generator's.
#[derive(Clone, Debug, Serialize)]
pub struct TargetNow {
    pub pid: u32,
    pub cpu_seconds: f64,
    /// % of one core over the last tick.
    pub cpu_pct: f64,
    pub rss_bytes: u64,
}

/// How the run ended, shown when it did.
#[derive(Clone, Debug, Serialize)]
pub struct RunEnd {
    pub verdict: String,
    /// The results directory; its files are served under `/files/`.
    #[serde(skip)]
    pub out_dir: PathBuf,
    pub out_dir_display: String,
    pub files: Vec<String>,
}

impl RunEnd {
    /// The end of a run whose results `written` (as `reports::write_all` returns) are in `dir`.
    pub fn written(verdict: String, dir: &std::path::Path, written: &[PathBuf]) -> RunEnd {
        RunEnd {
            verdict,
            out_dir_display: dir.display().to_string(),
            files: written
                .iter()
                .filter(|p| p.parent() == Some(dir))
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect(),
            out_dir: dir.to_path_buf(),
        }
    }
}

/// One SLA as the page shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SlaState {
    pub threshold: String,
    pub measured: f64,
    /// `measured` in the threshold's unit (`82.4 ms`, `14.3 %`).
    pub measured_text: String,
    pub passed: bool,
    /// Seconds from the start when it first broke, if it did.
    pub broke_at_s: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RequestRow {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    pub avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub intended_p99_ms: Option<f64>,
    pub ttfc_p95_ms: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ErrorRow {
    pub method: String,
    pub name: String,
    pub error: String,
    pub count: u64,
    pub last_seen: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct StageNow {
    /// 1-based.
    pub index: usize,
    pub count: usize,
    pub target_users: Option<u64>,
    pub target_rate: Option<f64>,
    pub ends_in_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Control {
    /// `"rate"` (open model), `"users"` (closed model) or `"none"`.
    pub kind: &'static str,
    /// Open model: the rate of the stage in progress.
    pub rate: Option<f64>,
    /// Closed model: the users and spawn rate of the stage in progress, and the most users
    /// the run may be raised to.
    pub users: Option<u64>,
    pub spawn_rate: Option<f64>,
    pub max_users: Option<u64>,
    pub note: Option<&'static str>,
}

impl Control {
    const NONE: Control = Control {
        kind: "none",
        rate: None,
        users: None,
        spawn_rate: None,
        max_users: None,
        note: None,
    };
}

/// `/api/stats`, and each `/api/events` message (with only the new `points`).
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    /// `"waiting"`, `"running"` or `"ended"`.
    pub state: &'static str,
    pub scenario: String,
    pub load_model: &'static str,
    pub elapsed_s: f64,
    pub run_time_s: f64,
    pub requests: u64,
    pub failures: u64,
    /// Requests in the last finished second.
    pub rps: f64,
    pub failures_per_s: f64,
    pub active_users: u64,
    pub dropped_arrivals: u64,
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub stage: Option<StageNow>,
    pub rows: Vec<RequestRow>,
    pub errors: Vec<ErrorRow>,
    pub slas: Vec<SlaState>,
    pub control: Control,
    /// A distributed run's workers (absent in a local run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<Vec<WorkerRow>>,
    /// The embedded target's CPU and RSS (absent against a `--host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetNow>,
    /// A capacity search's step in progress and finished steps (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityNow>,
    pub end: Option<RunEnd>,
    /// The whole chart history in `/api/stats`; the points new since the last message in an
    /// event.
    pub points: Vec<Point>,
}

#[derive(Default)]
struct Inner {
    run: Option<WebRun>,
    history: History,
    /// The newest second already in the history.
    last_second: Option<i64>,
    last_cpu: Option<(Instant, f64)>,
    last_target_cpu: Option<(Instant, f64)>,
    target: Option<TargetNow>,
    broke_at: Vec<Option<i64>>,
    end: Option<RunEnd>,
    latest: Option<Stats>,
}

/// Shared by the handlers and the ticker.
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Mutex<Inner>>,
    /// Each tick's message, for the event streams.
    events: watch::Sender<Option<Arc<String>>>,
    /// Set when the server shuts down, so open event streams end and it can.
    closing: watch::Sender<bool>,
    pub token: Option<String>,
}

fn ms(h: &LatencyHistogram, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| (h.value_at_quantile(q) * 1000.0).round() / 1000.0)
}

impl WebState {
    pub fn new(token: Option<String>) -> WebState {
        WebState {
            inner: Arc::default(),
            events: watch::channel(None).0,
            closing: watch::channel(false).0,
            token,
        }
    }

    pub fn attach(&self, run: WebRun) {
        let mut inner = self.lock();
        inner.broke_at = vec![None; run.scenario.thresholds.len()];
        inner.run = Some(run);
    }

    pub fn finish(&self, end: RunEnd) {
        self.lock().end = Some(end);
        self.tick();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("dashboard state poisoned")
    }

    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<String>>> {
        self.events.subscribe()
    }

    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    pub fn stop_handle(&self) -> Option<StopHandle> {
        self.lock().run.as_ref().map(|r| r.stop.clone())
    }

    pub fn load_control(&self) -> Option<Option<LoadControl>> {
        self.lock().run.as_ref().map(|r| r.load_control.clone())
    }

    /// The spawn rate of the closed stage in progress, as last published.
    pub fn current_spawn_rate(&self) -> Option<f64> {
        self.lock().latest.as_ref()?.control.spawn_rate
    }

    pub fn out_dir(&self) -> Option<PathBuf> {
        self.lock().end.as_ref().map(|e| e.out_dir.clone())
    }

    /// The latest figures with the whole history (what `/api/stats` answers).
    pub fn stats(&self) -> Stats {
        let inner = self.lock();
        let mut stats = inner.latest.clone().unwrap_or_else(waiting);
        stats.points = inner.history.points().to_vec();
        stats
    }

    /// Reads the run, adds its newly finished seconds to the history and publishes.
    pub fn tick(&self) {
        let Some(run) = self.lock().run.clone() else {
            return;
        };
        let edits = run
            .load_control
            .as_ref()
            .map(|c| c.edits())
            .unwrap_or_default();
        let stages = edited_stages(&run.stages, &edits);
        let input = ResultInput {
            scenario: &run.scenario,
            stages: &stages,
            host: "",
            command_line: &[],
        };
        // A few seconds of tail: at least every second finished since the last tick.
        let result = run.feed.result(&input, run.stop.reason(), 5);
        let now = Instant::now();
        let cpu = run.feed.cpu_seconds();
        let rss = crate::resources::rss_bytes();

        let mut inner = self.lock();
        let cpu_pct = percent_of_core(inner.last_cpu, now, cpu);
        inner.last_cpu = Some((now, cpu));
        if let Some(pid) = run.target_pid {
            let cpu_seconds = crate::resources::of_process(pid).cpu_seconds;
            let cpu_pct = percent_of_core(inner.last_target_cpu, now, cpu_seconds);
            inner.last_target_cpu = Some((now, cpu_seconds));
            inner.target = Some(TargetNow {
                pid,
                cpu_seconds,
                cpu_pct: (cpu_pct * 10.0).round() / 10.0,
                rss_bytes: crate::resources::rss_bytes_of(pid),
            });
        }
        let started = run.feed.started_at().timestamp();
        for second in &result.series {
            if inner
                .last_second
                .is_some_and(|last| second.unix_second <= last)
            {
                continue;
            }
            inner.last_second = Some(second.unix_second);
            let target = inner.target.as_ref().map(|t| (t.cpu_pct, t.rss_bytes));
            let point = point_of(second, started, &stages, (cpu_pct, rss), target);
            inner.history.push(point);
        }
        let elapsed =
            (chrono::Utc::now() - run.feed.started_at()).num_milliseconds() as f64 / 1000.0;
        for (i, verdict) in result.slas.iter().enumerate() {
            if !verdict.passed && inner.broke_at.get(i).is_some_and(Option::is_none) {
                inner.broke_at[i] = Some(elapsed as i64);
            }
        }
        let new_points: Vec<Point> = {
            let from = inner
                .latest
                .as_ref()
                .and_then(|l| l.points.last())
                .map(|p| p.t);
            inner
                .history
                .points()
                .iter()
                .filter(|p| from.is_none_or(|t| p.t > t))
                .cloned()
                .collect()
        };
        let stats = stats_of(
            &run, &result, &inner, &stages, elapsed, cpu, rss, new_points,
        );
        inner.latest = Some(stats.clone());
        drop(inner);
        if let Ok(json) = serde_json::to_string(&stats) {
            self.events.send_replace(Some(Arc::new(json)));
        }
    }
}

/// CPU seconds since `before` as % of one core.
fn percent_of_core(before: Option<(Instant, f64)>, now: Instant, cpu: f64) -> f64 {
    match before {
        Some((at, used)) => {
            let wall = now.duration_since(at).as_secs_f64();
            if wall > 0.0 {
                100.0 * (cpu - used) / wall
            } else {
                0.0
            }
        }
        None => 0.0,
    }
}

fn waiting() -> Stats {
    Stats {
        state: "waiting",
        scenario: String::new(),
        load_model: "",
        elapsed_s: 0.0,
        run_time_s: 0.0,
        requests: 0,
        failures: 0,
        rps: 0.0,
        failures_per_s: 0.0,
        active_users: 0,
        dropped_arrivals: 0,
        cpu_seconds: 0.0,
        rss_bytes: 0,
        stage: None,
        rows: Vec::new(),
        errors: Vec::new(),
        slas: Vec::new(),
        control: Control::NONE,
        workers: None,
        target: None,
        capacity: None,
        end: None,
        points: Vec::new(),
    }
}

/// The stage in progress `elapsed` seconds in, with its 1-based index.
fn stage_at(stages: &[Stage], elapsed: f64) -> Option<(usize, &Stage, f64)> {
    let mut end = 0.0;
    for (i, stage) in stages.iter().enumerate() {
        end += stage.duration.as_secs_f64();
        if elapsed < end {
            return Some((i + 1, stage, end - elapsed));
        }
    }
    None
}

/// The chart point of second `s`; `generator` and `target` are (CPU % of a core, RSS bytes).
fn point_of(
    s: &SecondSample,
    started: i64,
    stages: &[Stage],
    generator: (f64, u64),
    target: Option<(f64, u64)>,
) -> Point {
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    let t = s.unix_second - started;
    let intended = s.intended();
    let ttfc = if s.stream.ttfc.is_empty() {
        &s.tokens.ttft
    } else {
        &s.stream.ttfc
    };
    Point {
        t,
        n: 1,
        rps: s.requests as f64,
        fps: s.failures as f64,
        p50: ms(&s.latency, 0.5),
        p95: ms(&s.latency, 0.95),
        p99: ms(&s.latency, 0.99),
        ip50: ms(&intended, 0.5),
        ip95: ms(&intended, 0.95),
        ip99: ms(&intended, 0.99),
        users: s.users as f64,
        rate: stage_at(stages, t as f64 + 0.5).and_then(|(_, st, _)| st.rate),
        dropped: s.dropped as f64,
        ttfc_p95: ms(ttfc, 0.95),
        cpu_pct: generator.0,
        rss_mb: mib(generator.1),
        tcpu_pct: target.map(|t| t.0),
        trss_mb: target.map(|t| mib(t.1)),
    }
}

#[allow(clippy::too_many_arguments)]
fn stats_of(
    run: &WebRun,
    result: &RunResult,
    inner: &Inner,
    stages: &[Stage],
    elapsed: f64,
    cpu: f64,
    rss: u64,
    points: Vec<Point>,
) -> Stats {
    let last = result.series.last();
    let duration = elapsed.max(0.001);
    let rows = result
        .requests
        .iter()
        .map(|r| {
            let ttfc = if r.stream.ttfc.is_empty() {
                &r.tokens.ttft
            } else {
                &r.stream.ttfc
            };
            RequestRow {
                method: r.method.clone(),
                name: r.name.clone(),
                requests: r.requests,
                failures: r.failures,
                rps: (r.requests as f64 / duration * 100.0).round() / 100.0,
                avg_ms: (!r.latency.is_empty())
                    .then(|| (r.latency.mean() * 1000.0).round() / 1000.0),
                p50_ms: ms(&r.latency, 0.5),
                p95_ms: ms(&r.latency, 0.95),
                p99_ms: ms(&r.latency, 0.99),
                intended_p99_ms: ms(&r.intended(), 0.99),
                ttfc_p95_ms: ms(ttfc, 0.95),
            }
        })
        .collect();
    let mut errors: Vec<ErrorRow> = result
        .failures
        .iter()
        .map(|f| ErrorRow {
            method: f.method.clone(),
            name: f.name.clone(),
            error: f.error.clone(),
            count: f.occurrences,
            last_seen: f.last_seen.format("%H:%M:%S").to_string(),
        })
        .collect();
    errors.sort_by_key(|e| std::cmp::Reverse(e.count));
    let slas = result
        .slas
        .iter()
        .enumerate()
        .map(|(i, v)| SlaState {
            threshold: v.describe(),
            measured: (v.measured * 1000.0).round() / 1000.0,
            measured_text: v.measured_text(),
            passed: v.passed,
            broke_at_s: inner.broke_at.get(i).copied().flatten(),
        })
        .collect();
    let ended = inner.end.is_some();
    let stage_now = stage_at(stages, elapsed);
    let stage = stage_now.map(|(_, s, _)| s);
    let none = Control::NONE;
    let control = match run.load_control.as_ref().map(LoadControl::kind) {
        Some(ControlKind::Rate) => Control {
            kind: "rate",
            rate: stage.and_then(|s| s.rate),
            ..none
        },
        Some(ControlKind::Users { max_users }) => Control {
            kind: "users",
            users: stage.map(|s| s.users),
            spawn_rate: stage.map(|s| s.spawn_rate),
            max_users: Some(max_users),
            ..none
        },
        None => Control {
            note: Some("this run sets its own load: it cannot change from here"),
            ..none
        },
    };
    Stats {
        state: if ended { "ended" } else { "running" },
        scenario: run.scenario.name.clone(),
        load_model: run.scenario.load_model().as_str(),
        elapsed_s: (elapsed * 10.0).round() / 10.0,
        run_time_s: stages.iter().map(|s| s.duration.as_secs_f64()).sum(),
        requests: result.requests.iter().map(|r| r.requests).sum(),
        failures: result.requests.iter().map(|r| r.failures).sum(),
        rps: last.map_or(0.0, |s| s.requests as f64),
        failures_per_s: last.map_or(0.0, |s| s.failures as f64),
        active_users: run.feed.active_users(),
        dropped_arrivals: result.dropped_arrivals,
        cpu_seconds: cpu,
        rss_bytes: rss,
        stage: (!ended)
            .then_some(stage_now)
            .flatten()
            .map(|(index, s, left)| StageNow {
                index,
                count: stages.len(),
                target_users: s.rate.is_none().then_some(s.users),
                target_rate: s.rate,
                ends_in_s: (left * 10.0).round() / 10.0,
            }),
        rows,
        errors,
        slas,
        control,
        workers: run.feed.workers(),
        target: inner.target.clone(),
        capacity: run.capacity.as_ref().map(CapacityProgress::now),
        end: inner.end.clone(),
        points,
    }
}

/// Why the run stopped, for the verdict line.
pub fn verdict_of(reason: Option<StopReason>, passed: bool) -> String {
    match reason {
        Some(StopReason::Interrupted) => "interrupted (results written)".into(),
        Some(StopReason::Aborted) => "aborted (partial results written)".into(),
        _ if passed => "passed: every SLA held".into(),
        _ => "failed: an SLA broke".into(),
    }
}

/// Ticks once a second until dropped.
pub const TICK: Duration = Duration::from_secs(1);
