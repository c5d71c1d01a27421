//! Synthetic results for tests and benchmarks of the renderers (never used for a real run's
//! output): a run of `seconds` seconds over `names` request names with a ramp of stages.
//! [`synthetic_search_run`] is a `skein capacity` result (climb, bisection, confirmation).
//! Behind the `fixtures` feature so it is not part of the library a run links.
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};

use crate::evaluation::evaluate_slas;
use crate::model::*;
use crate::search::{find_knee, CapacitySearch, SearchOutcome, SearchPhase, SearchStep};
use crate::sla::{SlaMetric, SlaThreshold};

/// Deterministic (seeded) synthetic closed-model run; latencies grow with the user count
/// past a knee. Only service time is recorded, as by a generator before format version 2.
pub fn synthetic_run(seconds: i64, names: usize, stages: usize) -> RunResult {
    build(seconds, names, stages, LoadModel::Closed)
}

/// The same run under the open model: each request also has an intended-time latency
/// (service time plus a queueing wait that grows past the knee), and overloaded seconds drop
/// arrivals.
pub fn synthetic_open_run(seconds: i64, names: usize, stages: usize) -> RunResult {
    build(seconds, names, stages, LoadModel::Open)
}

fn request_names(names: usize) -> Vec<String> {
    (0..names)
        .map(|i| match i {
            0 => "training.get_status".to_string(),
            1 => "training.start_grpo".to_string(),
            2 => "training.export_trajectories".to_string(),
            3 => "training.cancel".to_string(),
            n => format!("request_{n}"),
        })
        .collect()
}

fn build(seconds: i64, names: usize, stages: usize, load_model: LoadModel) -> RunResult {
    let open = load_model == LoadModel::Open;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    let stage_len = (seconds / stages.max(1) as i64).max(1);
    let names = request_names(names);
    let mut requests: Vec<RequestStats> =
        names.iter().map(|n| RequestStats::new("POST", n)).collect();
    let mut series = Vec::new();
    let mut stage_results: Vec<StageResult> = (0..stages)
        .map(|i| {
            StageResult::new(
                i,
                50 * (i as u64 + 1),
                start + Duration::seconds(stage_len * i as i64),
                start + Duration::seconds(stage_len * (i as i64 + 1)),
            )
        })
        .collect();
    let mut failures_total = 0;
    let mut dropped_total = 0;
    for s in 0..seconds {
        let stage = ((s / stage_len) as usize).min(stages.max(1) - 1);
        let users = 50 * (stage as u64 + 1);
        let load = users as f64 / 200.0;
        let mut sample = SecondSample::empty(start.timestamp() + s);
        sample.users = users;
        let per_second = 20 + users / 2;
        for _ in 0..per_second {
            let which = rng.random_range(0..names.len());
            let base = 2_000.0 + 30_000.0 * load * load;
            let micros = (base * (0.5 + rng.random::<f64>().powi(3) * 4.0)) as u64;
            let failed = rng.random::<f64>() < 0.002 + 0.02 * load * load;
            let r = &mut requests[which];
            r.requests += 1;
            r.failures += failed as u64;
            r.content_bytes += 512;
            r.latency.record(micros);
            sample.requests += 1;
            sample.failures += failed as u64;
            sample.content_bytes += 512;
            sample.latency.record(micros);
            if open {
                let wait = (60_000.0 * load.powi(4) * rng.random::<f64>()) as u64;
                r.intended_samples.record(micros + wait);
                sample.intended_samples.record(micros + wait);
            }
            failures_total += failed as u64;
        }
        if open && load > 0.5 {
            sample.dropped = ((load - 0.5) * 0.2 * per_second as f64) as u64;
            dropped_total += sample.dropped;
        }
        if let Some(st) = stage_results.get_mut(stage) {
            st.add_second(&sample);
        }
        series.push(sample);
    }
    let failures = if failures_total > 0 {
        vec![FailureGroup {
            occurrences: failures_total,
            last_seen: start + Duration::seconds(seconds - 1),
            ..FailureGroup::new(
                "POST",
                &names[0],
                "HTTP 429: server at capacity",
                start + Duration::seconds(1),
            )
        }]
    } else {
        Vec::new()
    };
    let mut thresholds = vec![
        SlaThreshold::new(SlaMetric::P95Ms, None, 200.0),
        SlaThreshold::new(SlaMetric::ErrorRate, None, 0.01),
    ];
    if open {
        thresholds.push(SlaThreshold::new(SlaMetric::DroppedRate, None, 0.05));
    }
    let mut result = RunResult::new(RunMetadata {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        git_sha: None,
        scenario_name: "synthetic".into(),
        scenario_source: "synthetic".into(),
        scenario_settings: serde_json::json!({ "stages": stages }),
        scenario_hash: "0000000000000000".into(),
        command_line: vec!["synthetic".into()],
        host: "http://127.0.0.1:8080".into(),
        started_at: start,
        ended_at: start + Duration::seconds(seconds),
        machine_cores: 2,
        partial: false,
        interrupted: false,
        load_model,
    });
    result.requests = requests;
    result.failures = failures;
    result.series = series;
    result.stages = stage_results;
    result.resources = GeneratorResources {
        cpu_seconds: seconds as f64 * 0.1,
        peak_rss_bytes: 40 << 20,
    };
    result.dropped_arrivals = dropped_total;
    result.slas = evaluate_slas(&result, &thresholds);
    result.thresholds = thresholds;
    result
}

/// `run` with every request latency (both kinds) scaled by `factor` (histograms
/// re-recorded): a synthetic regression (factor > 1) or improvement for testing the
/// comparison gate.
pub fn scaled(run: &RunResult, factor: f64) -> RunResult {
    let scale = |from: &LatencyHistogram| {
        let mut h = LatencyHistogram::new();
        for v in from.dense().iter_recorded() {
            let value = (v.value_iterated_to() as f64 * factor) as u64;
            for _ in 0..v.count_at_value() {
                h.record(value);
            }
        }
        h
    };
    let mut out = run.clone();
    for r in &mut out.requests {
        r.latency = scale(&r.latency);
        r.intended_samples = scale(&r.intended_samples);
    }
    out
}

/// One step of [`synthetic_capacity_search`]: phase, offered arrivals/s, completed req/s,
/// p50, p95, p99 (ms), error rate, dropped rate, window extensions.
type StepShape = (SearchPhase, f64, f64, f64, f64, f64, f64, f64, u32);

/// A server that sustains about 650 arrivals/s within p95 < 200 ms: the climb doubles until
/// 800 breaks, bisection narrows to 650 held / 675 broken (under the 5 % resolution), and
/// the confirmation runs 650 again. The knee is at 600, where p95 more than doubles while
/// the load grows by half.
const SEARCH_STEPS: [StepShape; 9] = [
    (
        SearchPhase::Climb,
        100.0,
        100.0,
        18.0,
        40.0,
        55.0,
        0.001,
        0.0,
        0,
    ),
    (
        SearchPhase::Climb,
        200.0,
        200.0,
        19.0,
        42.0,
        60.0,
        0.001,
        0.0,
        0,
    ),
    (
        SearchPhase::Climb,
        400.0,
        399.0,
        22.0,
        55.0,
        80.0,
        0.002,
        0.0,
        0,
    ),
    (
        SearchPhase::Climb,
        800.0,
        655.0,
        210.0,
        900.0,
        1400.0,
        0.03,
        0.18,
        0,
    ),
    (
        SearchPhase::Bisect,
        600.0,
        597.0,
        45.0,
        130.0,
        170.0,
        0.003,
        0.0,
        0,
    ),
    (
        SearchPhase::Bisect,
        700.0,
        668.0,
        120.0,
        260.0,
        380.0,
        0.006,
        0.02,
        0,
    ),
    (
        SearchPhase::Bisect,
        650.0,
        646.0,
        60.0,
        165.0,
        210.0,
        0.004,
        0.0,
        1,
    ),
    (
        SearchPhase::Bisect,
        675.0,
        661.0,
        90.0,
        215.0,
        300.0,
        0.005,
        0.01,
        0,
    ),
    (
        SearchPhase::Confirm,
        650.0,
        647.0,
        62.0,
        170.0,
        220.0,
        0.004,
        0.0,
        0,
    ),
];

/// Seconds of warm-up before each step's window, and of the window itself (each extension
/// adds half a window).
const SEARCH_WARMUP_SECS: i64 = 10;
const SEARCH_WINDOW_SECS: i64 = 30;

/// The thresholds the synthetic search judges its steps by.
fn search_thresholds() -> Vec<SlaThreshold> {
    vec![
        SlaThreshold::new(SlaMetric::P95Ms, None, 200.0),
        SlaThreshold::new(SlaMetric::ErrorRate, None, 0.01),
        SlaThreshold::new(SlaMetric::DroppedRate, None, 0.05),
    ]
}

/// Deterministic open-model capacity search of nine steps (climb, bisect, confirm) with a
/// knee, found to 5 %: what `skein capacity` stores in `RunResult::capacity_search`.
pub fn synthetic_capacity_search() -> CapacitySearch {
    let thresholds = search_thresholds();
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    let mut at = start;
    let steps: Vec<SearchStep> = SEARCH_STEPS
        .iter()
        .map(
            |&(phase, offered, rps, p50, p95, p99, errors, dropped, extensions)| {
                let window = SEARCH_WINDOW_SECS + i64::from(extensions) * SEARCH_WINDOW_SECS / 2;
                let started_at = at + Duration::seconds(SEARCH_WARMUP_SECS);
                let ended_at = started_at + Duration::seconds(window);
                at = ended_at;
                let requests = (rps * window as f64).round() as u64;
                let dropped_count = (dropped * offered * window as f64).round() as u64;
                let broken_by: Vec<String> = thresholds
                    .iter()
                    .filter_map(|t| {
                        let measured = match t.metric {
                            SlaMetric::P95Ms => p95,
                            SlaMetric::ErrorRate => errors,
                            _ => dropped,
                        };
                        (measured > t.limit).then(|| {
                            format!(
                                "{} {} > {}",
                                t.metric.key(),
                                t.metric.format(measured),
                                t.metric.format(t.limit)
                            )
                        })
                    })
                    .collect();
                SearchStep {
                    phase,
                    offered,
                    started_at,
                    ended_at,
                    warmup_secs: SEARCH_WARMUP_SECS as f64,
                    extensions,
                    requests,
                    failures: (errors * requests as f64).round() as u64,
                    dropped: dropped_count,
                    rps,
                    p50_ms: p50,
                    p95_ms: p95,
                    p99_ms: p99,
                    error_rate: errors,
                    dropped_rate: dropped,
                    held: broken_by.is_empty(),
                    broken_by,
                    goodput: None,
                }
            },
        )
        .collect();
    let knee = find_knee(&steps, LoadModel::Open);
    CapacitySearch {
        model: LoadModel::Open,
        resolution: 0.05,
        steps,
        outcome: SearchOutcome::Found,
        max_sustainable: Some(8),
        first_break: Some(7),
        knee,
    }
}

/// Milliseconds at quantile `q` of a step: linear between its p50, p95 and p99, so the
/// histograms recorded from it give back about the step's own percentiles.
fn step_latency_ms(q: f64, p50: f64, p95: f64, p99: f64) -> f64 {
    let points = [
        (0.0, p50 * 0.4),
        (0.5, p50),
        (0.95, p95),
        (0.99, p99),
        (1.0, p99 * 1.2),
    ];
    let i = points.iter().rposition(|p| p.0 <= q).unwrap_or(0).min(3);
    let ((q0, v0), (q1, v1)) = (points[i], points[i + 1]);
    v0 + (v1 - v0) * (q - q0) / (q1 - q0)
}

/// A whole `skein capacity` result around [`synthetic_capacity_search`]: one stage per step
/// (its window), a series that holds each step's warm-up and window at its rate and
/// percentiles, and the run's SLAs judged on everything together, overloaded steps included.
pub fn synthetic_search_run() -> RunResult {
    let search = synthetic_capacity_search();
    let names = request_names(3);
    let mut requests: Vec<RequestStats> =
        names.iter().map(|n| RequestStats::new("GET", n)).collect();
    let mut series = Vec::new();
    let mut stages = Vec::new();
    let mut failures_total = 0;
    let mut dropped_total = 0;
    for (i, (step, shape)) in search.steps.iter().zip(SEARCH_STEPS).enumerate() {
        let (_, _, _, p50, p95, p99, _, _, _) = shape;
        let mut stage = StageResult::new(i, 0, step.started_at, step.ended_at);
        stage.target_rate = Some(step.offered);
        let from = step.started_at.timestamp() - SEARCH_WARMUP_SECS;
        for second in from..step.ended_at.timestamp() {
            let mut sample = SecondSample::empty(second);
            let n = step.rps.round() as u64;
            let failing = (step.error_rate * n as f64).round() as u64;
            for k in 0..n {
                let q = (k as f64 + 0.5) / n as f64;
                let intended = (step_latency_ms(q, p50, p95, p99) * 1000.0) as u64;
                let service = intended * 9 / 10;
                let r = &mut requests[(k % 3) as usize];
                r.requests += 1;
                r.content_bytes += 256;
                r.latency.record(service);
                r.intended_samples.record(intended);
                sample.latency.record(service);
                sample.intended_samples.record(intended);
            }
            requests[0].failures += failing;
            sample.requests = n;
            sample.failures = failing;
            sample.content_bytes = 256 * n;
            sample.dropped = (step.dropped_rate * step.offered).round() as u64;
            failures_total += failing;
            dropped_total += sample.dropped;
            if second >= step.started_at.timestamp() {
                stage.add_second(&sample);
            }
            series.push(sample);
        }
        stages.push(stage);
    }
    let start = series.first().map_or(0, |s| s.unix_second);
    let end = series.last().map_or(0, |s| s.unix_second + 1);
    let at = |s: i64| DateTime::from_timestamp(s, 0).expect("a synthetic second");
    let mut result = RunResult::new(RunMetadata {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        git_sha: None,
        scenario_name: "capacity-search".into(),
        scenario_source: "synthetic".into(),
        scenario_settings: serde_json::json!({ "resolution": search.resolution }),
        scenario_hash: "0000000000000000".into(),
        command_line: vec!["skein".into(), "capacity".into()],
        host: "http://127.0.0.1:8080".into(),
        started_at: at(start),
        ended_at: at(end),
        machine_cores: 2,
        partial: false,
        interrupted: false,
        load_model: LoadModel::Open,
    });
    result.failures = vec![FailureGroup {
        occurrences: failures_total,
        last_seen: at(end - 1),
        ..FailureGroup::new("GET", &names[0], "HTTP 429: server at capacity", at(start))
    }];
    result.requests = requests;
    result.series = series;
    result.stages = stages;
    result.dropped_arrivals = dropped_total;
    result.resources = GeneratorResources {
        cpu_seconds: (end - start) as f64 * 0.1,
        peak_rss_bytes: 40 << 20,
    };
    let thresholds = search_thresholds();
    result.slas = evaluate_slas(&result, &thresholds);
    result.thresholds = thresholds;
    result.capacity_search = Some(search);
    result
}
