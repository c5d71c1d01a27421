//! Synthetic results for tests and benchmarks of the renderers (never used for a real run's
//! output): a run of `seconds` seconds over `names` request names with a ramp of stages.
//! Behind the `fixtures` feature so it is not part of the library a run links.
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};

use crate::evaluation::evaluate_slas;
use crate::model::*;
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
                r.intended.record(micros + wait);
                sample.intended.record(micros + wait);
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
        r.intended = scale(&r.intended);
    }
    out
}
