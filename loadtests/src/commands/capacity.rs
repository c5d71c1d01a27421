//! `skein capacity`: find the maximum sustainable load automatically.
//!
//! Runs steps of the scenario at one load each (arrivals per second in the open model, users
//! in the closed one) as [`crate::capacity::Search`] directs: a warm-up that is not judged,
//! then a measurement window judged alone against the SLAs (a window with too few requests for
//! its percentile is extended, not judged on noise; an open step that dropped arrivals broke).
//! Everything measured is written like a run's results, with the search in `results.json`.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use reports::sla::Measurement;
use reports::{
    LatencyBasis, LoadModel, RunResult, SearchOutcome, SearchPhase, SearchStep, SecondSample,
    SlaMetric, SlaThreshold, StageResult,
};

use crate::capacity::{Next, Search, SearchSpec};
use crate::commands::target::Target;
use crate::engine::{StopHandle, StopReason};
use crate::exit::{Failure, Outcome};
use crate::recorder::Recorder;
use crate::results::{self, default_out_dir, ResultInput};
use crate::runner::{run_plan, RunPlan};
use crate::scenario::{self, parse_duration, Scenario, Stage};
use crate::signals;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Model {
    /// Search over arrivals per second.
    Open,
    /// Search over concurrent users.
    Closed,
}

#[derive(Debug, clap::Args)]
pub struct CapacityArgs {
    /// Shipped scenario name or path: its user classes, weights and SLAs are searched.
    #[arg(long, short = 's', default_value = "light")]
    pub scenario: String,
    /// Target base URL [default: the scenario's host; none: the embedded reference server].
    #[arg(long, short = 'H', env = "SKEIN_HOST")]
    pub host: Option<String>,
    /// Bearer token for the target's API.
    #[arg(long, env = "SKEIN_TARGET_TOKEN", hide_env_values = true)]
    pub target_token: Option<String>,
    /// Search over arrival rate (open) or users (closed) [default: the scenario's model].
    #[arg(long, value_enum)]
    pub model: Option<Model>,
    /// Highest arrival rate tried (open model) [default: 10000].
    #[arg(long)]
    pub max_rate: Option<f64>,
    /// Highest user count tried (closed model) [default: 1000].
    #[arg(long)]
    pub max_users: Option<u64>,
    /// First (lowest) load tried [default: the maximum / 64].
    #[arg(long)]
    pub start: Option<f64>,
    /// Stop when the gap between the highest held and lowest broken load is at most this
    /// share of the broken one, e.g. 5%.
    #[arg(long, default_value = "5%", value_parser = parse_percent)]
    pub resolution: f64,
    /// Measurement window of each step (judged alone; whole seconds, rounded up).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub step_time: Duration,
    /// Warm-up of each step (run, not judged; whole seconds, rounded up).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// The whole search's time cap; when it runs out, the answer is the bounds found so far.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub budget: Duration,
    /// An SLA for every step, replacing the scenario's of the same metric, e.g. `p95<200ms`,
    /// `p99<1s`, `error_rate<1%`, `dropped_rate<0.1%`, `min_rps>50`. Repeatable.
    #[arg(long = "sla", value_parser = parse_sla)]
    pub slas: Vec<SlaThreshold>,
    /// Results directory [default: reports/out/<scenario>-capacity-<UTC timestamp>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `5%` or `0.05`.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{text}` is not a share; write e.g. `5%` or `0.05`"))?;
    if !(value > 0.0 && value < 1.0) {
        return Err(format!("`{text}` must be between 0 and 100 %"));
    }
    Ok(value)
}

/// `p95<200ms`, `p99<1s`, `avg<50ms`, `error_rate<1%`, `dropped_rate<0.1%`, `min_rps>50`.
pub fn parse_sla(text: &str) -> Result<SlaThreshold, String> {
    let usage = || {
        format!("`{text}` is not an SLA; write e.g. `p95<200ms`, `error_rate<1%`, `dropped_rate<0.1%`, `min_rps>50`")
    };
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (key, value, floor) = match (t.split_once('<'), t.split_once('>')) {
        (Some((k, v)), None) => (k, v, false),
        (None, Some((k, v))) => (k, v, true),
        _ => return Err(usage()),
    };
    let metric = match key.trim_end_matches("_ms") {
        "p50" => SlaMetric::P50Ms,
        "p90" => SlaMetric::P90Ms,
        "p95" => SlaMetric::P95Ms,
        "p99" => SlaMetric::P99Ms,
        "avg" => SlaMetric::AvgMs,
        "error_rate" => SlaMetric::ErrorRate,
        "dropped_rate" => SlaMetric::DroppedRate,
        "min_rps" => SlaMetric::MinRps,
        _ => return Err(usage()),
    };
    if floor != metric.is_floor() {
        return Err(format!(
            "`{text}`: {} is a {}; write `{}{}…`",
            metric.key(),
            if metric.is_floor() {
                "floor"
            } else {
                "ceiling"
            },
            key,
            if metric.is_floor() { ">" } else { "<" }
        ));
    }
    let limit = match metric {
        SlaMetric::ErrorRate | SlaMetric::DroppedRate => {
            parse_percent(value).or_else(|e| if value == "0" { Ok(0.0) } else { Err(e) })?
        }
        SlaMetric::MinRps => value.parse::<f64>().map_err(|_| usage())?,
        _ => parse_duration(value)
            .map_err(|_| usage())
            .map(|d| d.as_secs_f64() * 1000.0)?,
    };
    if !(limit.is_finite() && limit >= 0.0) {
        return Err(usage());
    }
    Ok(SlaThreshold::new(metric, None, limit))
}

/// The scenario's all-request SLAs with `--sla`s replacing those of the same metric.
fn thresholds(scenario: &Scenario, flags: &[SlaThreshold]) -> Vec<SlaThreshold> {
    let basis = scenario
        .thresholds
        .first()
        .map_or(LatencyBasis::Intended, |t| t.latency);
    let mut out: Vec<SlaThreshold> = scenario
        .thresholds
        .iter()
        .filter(|t| t.request.is_none() && !flags.iter().any(|f| f.metric == t.metric))
        .cloned()
        .collect();
    out.extend(flags.iter().cloned().map(|mut f| {
        f.latency = basis;
        f
    }));
    out
}

/// The scenario as one step: a single stage at `offered`, warm-up and window together.
fn step_scenario(base: &Scenario, model: LoadModel, offered: f64, duration: Duration) -> Scenario {
    let mut s = base.clone();
    s.staged = false;
    s.stages = vec![match model {
        LoadModel::Open => Stage::open(offered, Duration::ZERO, duration),
        LoadModel::Closed => Stage::closed(offered as u64, offered.max(1.0), duration),
    }];
    s
}

/// Requests a window needs before its highest latency percentile is more than noise: ten
/// samples beyond it (p95: 200, p99: 1,000).
fn needed_requests(thresholds: &[SlaThreshold]) -> u64 {
    thresholds
        .iter()
        .filter_map(|t| match t.metric {
            SlaMetric::P50Ms => Some(0.5),
            SlaMetric::P90Ms => Some(0.9),
            SlaMetric::P95Ms => Some(0.95),
            SlaMetric::P99Ms => Some(0.99),
            _ => None,
        })
        .map(|q: f64| (10.0 / (1.0 - q)).ceil() as u64)
        .max()
        .unwrap_or(20)
}

pub fn execute(args: CapacityArgs) -> anyhow::Result<Outcome> {
    let base = scenario::load(&args.scenario).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(host) = &args.host {
        scenario::target_url(host).map_err(|e| Failure::Usage(format!("--{e}")))?;
    }
    let model = match args.model {
        Some(Model::Open) => LoadModel::Open,
        Some(Model::Closed) => LoadModel::Closed,
        None => base.load_model(),
    };
    let max = match model {
        LoadModel::Open => args.max_rate.unwrap_or(10_000.0),
        LoadModel::Closed => args.max_users.unwrap_or(1_000) as f64,
    };
    let max_ok = match model {
        LoadModel::Open => max > 0.0 && max <= scenario::shape::MAX_RATE,
        LoadModel::Closed => max >= 1.0 && max <= scenario::shape::MAX_USERS as f64,
    };
    if !max_ok {
        return Err(Failure::Usage(format!(
            "--max-{}: {max} is out of range (arrival rates up to {}, users up to {})",
            if model == LoadModel::Open {
                "rate"
            } else {
                "users"
            },
            scenario::shape::MAX_RATE,
            scenario::shape::MAX_USERS
        ))
        .into());
    }
    let start = args
        .start
        .unwrap_or(max / 64.0)
        .clamp(1.0_f64.min(max), max);
    if args.step_time.is_zero() {
        return Err(Failure::Usage("--step-time must be positive, e.g. `30s`".into()).into());
    }
    let mut args = args;
    args.step_time = whole_seconds(args.step_time);
    args.warmup = whole_seconds(args.warmup);
    let thresholds = thresholds(&base, &args.slas);
    let spec = SearchSpec {
        model,
        start,
        max,
        resolution: args.resolution,
    };
    signals::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(search(base, thresholds, spec, args))
}

async fn search(
    mut base: Scenario,
    thresholds: Vec<SlaThreshold>,
    spec: SearchSpec,
    args: CapacityArgs,
) -> anyhow::Result<Outcome> {
    let target = Target::resolve(
        args.host.as_deref().or(base.host.as_deref()),
        args.target_token.clone(),
        base.token.as_deref(),
    )
    .await?;
    base.thresholds = thresholds.clone();
    let model = spec.model;
    eprintln!(
        "skein capacity: `{}` {} from {} to {} {}, steps of {} + {} warm-up, resolution {:.1} %, budget {}, against {}",
        base.name,
        if model == LoadModel::Open { "arrival rate" } else { "users" },
        spec.start,
        spec.max,
        if model == LoadModel::Open { "arrivals/s" } else { "users" },
        scenario::format_duration(args.step_time),
        scenario::format_duration(args.warmup),
        spec.resolution * 100.0,
        scenario::format_duration(args.budget),
        target.host
    );
    let recorder = Arc::new(Recorder::new());
    let stop = StopHandle::default();
    let interrupt = {
        let stop = stop.clone();
        tokio::spawn(async move {
            signals::first_interrupt().await;
            eprintln!(
                "skein capacity: interrupted: writing what was measured (again to exit at once)"
            );
            stop.stop(StopReason::Interrupted);
        })
    };
    let began = Instant::now();
    let mut search = Search::new(spec);
    let needed = needed_requests(&thresholds);
    while let Next::Run { offered, phase } = search.next() {
        if began.elapsed() + args.warmup + args.step_time > args.budget {
            search.stop(SearchOutcome::BudgetExhausted);
            break;
        }
        let mut windows: Vec<Window> = Vec::new();
        let mut warmup = args.warmup;
        let mut extensions = 0;
        loop {
            // Steps start on a second boundary, so the warm-up and the window are whole
            // seconds of the per-second series.
            let subsec = Utc::now().timestamp_subsec_nanos();
            tokio::time::sleep(Duration::from_nanos(u64::from(1_000_000_000 - subsec))).await;
            let plan_scenario = step_scenario(&base, model, offered, warmup + args.step_time);
            let plan = RunPlan::new(plan_scenario, target.host.clone(), target.token.clone());
            // Whole seconds from the aligned start: the warm-up, then the window.
            let started = Utc::now().timestamp();
            run_plan(&plan, recorder.clone(), &stop)
                .await
                .map_err(|e| Failure::Aborted(e.to_string()))?;
            let from = started + warmup.as_secs() as i64;
            let planned_end = from + args.step_time.as_secs() as i64;
            windows.push((from, planned_end.min(Utc::now().timestamp()).max(from)));
            if stop.reason().is_some() {
                break;
            }
            let window = window_of(&recorder, &windows);
            let no_time = began.elapsed() + args.step_time > args.budget;
            if window.requests >= needed || extensions >= 3 || no_time {
                break;
            }
            extensions += 1;
            warmup = Duration::ZERO;
            eprintln!(
                "skein capacity: {} requests in the window, {needed} needed: extending",
                window.requests
            );
        }
        if stop.reason().is_some() {
            search.stop(SearchOutcome::Interrupted);
            break;
        }
        let step = judge(
            offered,
            phase,
            &recorder,
            &windows,
            args.warmup,
            extensions,
            &thresholds,
        );
        eprintln!(
            "skein capacity: step {} ({:?}): {} {} -> {:.1} req/s, p95 {:.1} ms, errors {:.2} %{}: {}",
            search.steps().len() + 1,
            phase,
            offered,
            if model == LoadModel::Open { "arrivals/s" } else { "users" },
            step.rps,
            step.p95_ms,
            step.error_rate * 100.0,
            if step.dropped > 0 {
                format!(", {} dropped", step.dropped)
            } else {
                String::new()
            },
            if step.held {
                "held".to_string()
            } else {
                format!("broken ({})", step.broken_by.join(", "))
            }
        );
        search.record(step);
    }
    interrupt.abort();
    let target_resources = target.shutdown().await;

    let found = search.result();
    let input = ResultInput {
        scenario: &base,
        stages: &[],
        host: &args.host.clone().unwrap_or_default(),
        command_line: &std::env::args().collect::<Vec<_>>(),
    };
    let mut result = results::build(&input, &recorder, stop.reason(), None);
    result.target_resources = target_resources;
    result.metadata.load_model = model;
    result.stages = found
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| step_stage(i, s, model, &result.series))
        .collect();
    result.slas = judged_capacity(&found, &result, &thresholds);
    let verdict = found.verdict();
    let knee = found.knee_text();
    result.capacity_search = Some(found.clone());

    let dir = args
        .out
        .unwrap_or_else(|| default_out_dir(&format!("{}-capacity", base.name)));
    reports::write_all(&result, &dir)
        .map_err(|e| Failure::Aborted(format!("cannot write results: {e}")))?;
    println!("{verdict}");
    if let Some(knee) = knee {
        println!("{knee}");
    }
    eprintln!(
        "skein capacity: results in {} (open report.html)",
        dir.display()
    );
    Ok(match found.outcome {
        SearchOutcome::Interrupted => Outcome::Interrupted,
        SearchOutcome::Found | SearchOutcome::MaxHeld => Outcome::Passed,
        SearchOutcome::BudgetExhausted if found.max_sustainable.is_some() => Outcome::Passed,
        SearchOutcome::BudgetExhausted | SearchOutcome::LowestBroke => Outcome::SlaFailed,
    })
}

/// Steps are measured in whole seconds of the per-second series.
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// A measurement window: unix seconds `from..to` of the per-second series.
type Window = (i64, i64);

/// The windows' seconds of the recorder's series, added up.
fn window_of(recorder: &Recorder, windows: &[Window]) -> StageResult {
    let (_, _, series) = recorder.totals();
    window_stage(&series, windows)
}

fn window_stage(series: &[SecondSample], windows: &[Window]) -> StageResult {
    let seconds: i64 = windows.iter().map(|(a, b)| b - a).sum();
    let start = DateTime::<Utc>::from_timestamp(windows[0].0, 0).unwrap_or_default();
    let end = start + chrono::Duration::seconds(seconds);
    let mut stage = StageResult::new(0, 0, start, end);
    for s in series {
        if windows
            .iter()
            .any(|(a, b)| s.unix_second >= *a && s.unix_second < *b)
        {
            stage.add_second(s);
        }
    }
    stage
}

/// Judges a step's windows against the thresholds; an open step that dropped arrivals broke.
fn judge(
    offered: f64,
    phase: SearchPhase,
    recorder: &Recorder,
    windows: &[Window],
    warmup: Duration,
    extensions: u32,
    thresholds: &[SlaThreshold],
) -> SearchStep {
    let stage = window_of(recorder, windows);
    let m = measurement(&stage);
    let verdicts: Vec<_> = thresholds.iter().map(|t| t.judge(&m)).collect();
    let mut broken_by: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.passed)
        .map(|v| {
            let op = if v.threshold.metric.is_floor() {
                "<"
            } else {
                ">"
            };
            format!(
                "{} {} {op} {}",
                v.threshold.metric.key(),
                v.threshold.metric.format(v.measured),
                v.threshold.metric.format(v.threshold.limit)
            )
        })
        .collect();
    if stage.dropped > 0
        && !verdicts
            .iter()
            .any(|v| v.threshold.metric == SlaMetric::DroppedRate)
    {
        broken_by.push(format!("{} arrivals dropped", stage.dropped));
    }
    let basis = thresholds
        .iter()
        .find(|t| t.metric.is_latency())
        .map_or(LatencyBasis::Intended, |t| t.latency);
    let latency = if basis == LatencyBasis::Intended && !stage.intended.is_empty() {
        &stage.intended
    } else {
        &stage.latency
    };
    SearchStep {
        phase,
        offered,
        started_at: stage.started_at,
        ended_at: stage.ended_at,
        warmup_secs: warmup.as_secs_f64(),
        extensions,
        requests: stage.requests,
        failures: stage.failures,
        dropped: stage.dropped,
        rps: stage.rps(),
        p50_ms: latency.value_at_quantile(0.50),
        p95_ms: latency.value_at_quantile(0.95),
        p99_ms: latency.value_at_quantile(0.99),
        error_rate: stage.error_rate(),
        dropped_rate: stage.dropped_rate(),
        held: stage.requests > 0 && broken_by.is_empty(),
        broken_by: if stage.requests == 0 {
            vec!["no request completed".into()]
        } else {
            broken_by
        },
    }
}

fn measurement(stage: &StageResult) -> Measurement<'_> {
    Measurement {
        requests: stage.requests,
        service: &stage.latency,
        intended: &stage.intended,
        error_rate: stage.error_rate(),
        dropped_rate: stage.dropped_rate(),
        rps: stage.rps(),
    }
}

/// A step as a stage of the result: its measurement window, its offered load.
fn step_stage(
    index: usize,
    step: &SearchStep,
    model: LoadModel,
    series: &[SecondSample],
) -> StageResult {
    let mut stage = window_stage(
        series,
        &[(step.started_at.timestamp(), step.ended_at.timestamp())],
    );
    stage.index = index;
    match model {
        LoadModel::Open => stage.target_rate = Some(step.offered),
        LoadModel::Closed => stage.target_users = step.offered as u64,
    }
    stage
}

/// The SLA verdicts of the reported capacity: its step's window judged against every
/// threshold (or, without one, the lowest step's).
fn judged_capacity(
    found: &reports::CapacitySearch,
    result: &RunResult,
    thresholds: &[SlaThreshold],
) -> Vec<reports::SlaVerdict> {
    let Some(index) = found.max_sustainable.or(found.first_break) else {
        return Vec::new();
    };
    let stage = &result.stages[index];
    let m = measurement(stage);
    thresholds.iter().map(|t| t.judge(&m)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sla_flags_parse_with_units() {
        let t = parse_sla("p95<200ms").unwrap();
        assert_eq!((t.metric, t.limit), (SlaMetric::P95Ms, 200.0));
        assert_eq!(parse_sla("p99 < 1s").unwrap().limit, 1000.0);
        assert_eq!(parse_sla("error_rate<1%").unwrap().limit, 0.01);
        assert_eq!(parse_sla("dropped_rate<0.001").unwrap().limit, 0.001);
        assert_eq!(parse_sla("min_rps>50").unwrap().metric, SlaMetric::MinRps);
        for bad in [
            "p95>200ms",
            "p97<1s",
            "p95<fast",
            "min_rps<5",
            "error_rate<150%",
            "p95=200",
        ] {
            assert!(parse_sla(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_flags_parse() {
        assert_eq!(parse_percent("5%").unwrap(), 0.05);
        assert_eq!(parse_percent("0.1").unwrap(), 0.1);
        assert!(parse_percent("0%").is_err());
        assert!(parse_percent("100%").is_err());
        assert!(parse_percent("x").is_err());
    }

    #[test]
    fn windows_are_their_seconds_of_the_series() {
        let series: Vec<SecondSample> = (100..110)
            .map(|t| {
                let mut s = SecondSample::empty(t);
                s.requests = 10;
                s
            })
            .collect();
        let stage = window_stage(&series, &[(103, 108)]);
        assert_eq!(stage.requests, 50);
        assert_eq!(stage.rps(), 10.0, "requests per measured second");
        // Two windows (an extended step) add up.
        let stage = window_stage(&series, &[(100, 102), (105, 106)]);
        assert_eq!(stage.requests, 30);
        assert_eq!(stage.rps(), 10.0);
    }
}
