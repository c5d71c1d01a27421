//! Exact merge of many results (one per worker, or per run) into one.
//!
//! Histograms (service and intended-time) are added (HDR addition is exact at equal
//! precision), counts, dropped arrivals and skipped requests summed, the series aligned on
//! wall-clock seconds, failures grouped again, stages added by index. Each input is kept as
//! a [`WorkerContribution`] so the report can show who did what.
use std::collections::BTreeMap;

use crate::error::MergeError;
use crate::evaluation::evaluate_slas;
use crate::model::{
    FailureGroup, GeneratorResources, RequestStats, RunResult, SecondSample, SkippedRequests,
    StageResult, WorkerContribution, FORMAT_VERSION,
};

pub fn merge(results: &[RunResult]) -> Result<RunResult, MergeError> {
    let first = results.first().ok_or(MergeError::Empty)?;
    for other in &results[1..] {
        if other.metadata.scenario_hash != first.metadata.scenario_hash {
            return Err(MergeError::ScenarioMismatch {
                first: first.metadata.scenario_name.clone(),
                first_hash: first.metadata.scenario_hash.clone(),
                other: other.metadata.scenario_name.clone(),
                other_hash: other.metadata.scenario_hash.clone(),
            });
        }
    }

    let mut requests: BTreeMap<String, RequestStats> = BTreeMap::new();
    let mut failures: BTreeMap<(String, String, String), FailureGroup> = BTreeMap::new();
    let mut series: BTreeMap<i64, SecondSample> = BTreeMap::new();
    let mut stages: BTreeMap<usize, StageResult> = BTreeMap::new();
    let mut resources = GeneratorResources::default();
    let mut workers = Vec::new();
    let mut metadata = first.metadata.clone();
    let mut dropped_arrivals = 0;
    let mut skipped: BTreeMap<(String, String), u64> = BTreeMap::new();

    for (i, r) in results.iter().enumerate() {
        for s in &r.requests {
            requests
                .entry(s.name.clone())
                .or_insert_with(|| RequestStats::new(&s.method, &s.name))
                .add(s);
        }
        for f in &r.failures {
            let key = (f.method.clone(), f.name.clone(), f.error.clone());
            match failures.get_mut(&key) {
                Some(g) => g.add(f),
                None => {
                    failures.insert(key, f.clone());
                }
            }
        }
        for s in &r.series {
            series
                .entry(s.unix_second)
                .or_insert_with(|| SecondSample::empty(s.unix_second))
                .add(s);
        }
        for s in &r.stages {
            match stages.get_mut(&s.index) {
                Some(into) => into.add(s),
                None => {
                    stages.insert(s.index, s.clone());
                }
            }
        }
        dropped_arrivals += r.dropped_arrivals;
        for s in &r.skipped_requests {
            *skipped
                .entry((s.class.clone(), s.name.clone()))
                .or_default() += s.count;
        }
        resources.cpu_seconds += r.resources.cpu_seconds;
        resources.peak_rss_bytes = resources.peak_rss_bytes.max(r.resources.peak_rss_bytes);
        if r.workers.is_empty() {
            let overall = r.overall();
            workers.push(WorkerContribution {
                worker_id: format!("input-{}", i + 1),
                address: None,
                requests: overall.requests,
                failures: overall.failures,
                joined_at: r.metadata.started_at,
                lost_at: None,
                resources: r.resources.clone(),
            });
        } else {
            workers.extend(r.workers.iter().cloned());
        }
        metadata.started_at = metadata.started_at.min(r.metadata.started_at);
        metadata.ended_at = metadata.ended_at.max(r.metadata.ended_at);
        metadata.partial |= r.metadata.partial;
        metadata.interrupted |= r.metadata.interrupted;
    }

    let mut merged = RunResult {
        // The merged value has every field of the current format, whatever its inputs were.
        format_version: FORMAT_VERSION,
        metadata,
        requests: requests.into_values().collect(),
        failures: failures.into_values().collect(),
        series: series
            .into_values()
            .map(|mut s| {
                s.compact();
                s
            })
            .collect(),
        stages: stages.into_values().collect(),
        thresholds: first.thresholds.clone(),
        slas: Vec::new(),
        resources,
        // One embedded target per input run; summing them would mix targets, so keep the first's.
        target_resources: first.target_resources.clone(),
        workers,
        dropped_arrivals,
        // A search's steps are one generator's sequence of runs; merging two searches has no
        // meaning, so a merged result carries the first input's, if any.
        capacity_search: first.capacity_search.clone(),
        skipped_requests: skipped
            .into_iter()
            .map(|((class, name), count)| SkippedRequests { class, name, count })
            .collect(),
    };
    merged.slas = evaluate_slas(&merged, &merged.thresholds);
    Ok(merged)
}
