//! Synthetic results for tests and benchmarks of the renderers (never used for a real run's
//! output): a run of `seconds` seconds over `names` request names with a ramp of stages.
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};

use crate::model::*;
use crate::sla::{evaluate_slas, SlaMetric, SlaThreshold};

/// Deterministic (seeded) synthetic run; latencies grow with the user count past a knee.
pub fn synthetic_run(seconds: i64, names: usize, stages: usize) -> RunResult {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    let stage_len = (seconds / stages.max(1) as i64).max(1);
    let names: Vec<String> = (0..names)
        .map(|i| match i {
            0 => "training.get_status".to_string(),
            1 => "training.start_grpo".to_string(),
            2 => "training.export_trajectories".to_string(),
            3 => "training.cancel".to_string(),
            n => format!("request_{n}"),
        })
        .collect();
    let mut requests: Vec<RequestStats> =
        names.iter().map(|n| RequestStats::new("POST", n)).collect();
    let mut series = Vec::new();
    let mut stage_results: Vec<StageResult> = (0..stages)
        .map(|i| StageResult {
            index: i,
            target_users: 50 * (i as u64 + 1),
            started_at: start + Duration::seconds(stage_len * i as i64),
            ended_at: start + Duration::seconds(stage_len * (i as i64 + 1)),
            requests: 0,
            failures: 0,
            latency: LatencyHistogram::new(),
        })
        .collect();
    let mut failures_total = 0;
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
            if let Some(st) = stage_results.get_mut(stage) {
                st.requests += 1;
                st.failures += failed as u64;
                st.latency.record(micros);
            }
            failures_total += failed as u64;
        }
        series.push(sample);
    }
    let failures = if failures_total > 0 {
        vec![FailureGroup {
            method: "POST".into(),
            name: names[0].clone(),
            error: "HTTP 429: server at capacity".into(),
            occurrences: failures_total,
            first_seen: start + Duration::seconds(1),
            last_seen: start + Duration::seconds(seconds - 1),
        }]
    } else {
        Vec::new()
    };
    let thresholds = vec![
        SlaThreshold {
            metric: SlaMetric::P95Ms,
            request: None,
            limit: 200.0,
        },
        SlaThreshold {
            metric: SlaMetric::ErrorRate,
            request: None,
            limit: 0.01,
        },
    ];
    let mut result = RunResult {
        format_version: FORMAT_VERSION,
        metadata: RunMetadata {
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
        },
        requests,
        failures,
        series,
        stages: stage_results,
        thresholds: thresholds.clone(),
        slas: Vec::new(),
        resources: GeneratorResources {
            cpu_seconds: seconds as f64 * 0.1,
            peak_rss_bytes: 40 << 20,
        },
        workers: Vec::new(),
    };
    result.slas = evaluate_slas(&result, &thresholds);
    result
}

/// `run` with every request latency scaled by `factor` (histograms re-recorded): a
/// synthetic regression (factor > 1) or improvement for testing the comparison gate.
pub fn scaled(run: &RunResult, factor: f64) -> RunResult {
    let mut out = run.clone();
    for r in &mut out.requests {
        let mut h = LatencyHistogram::new();
        for v in r.latency.dense().iter_recorded() {
            let value = (v.value_iterated_to() as f64 * factor) as u64;
            for _ in 0..v.count_at_value() {
                h.record(value);
            }
        }
        r.latency = h;
    }
    out
}
