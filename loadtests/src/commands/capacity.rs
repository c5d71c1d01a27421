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
use chrono::Utc;
use reports::{
    CapacitySearch, LoadModel, RunResult, SearchOutcome, SlaMetric, SlaThreshold, StageResult,
};

use crate::capacity::step::{
    judge, judged_capacity, needed_requests, step_line, step_scenario, step_stage, thresholds,
    window_stage, Window,
};
use crate::capacity::{Next, Search, SearchSpec};
use crate::cli_values::{arrival_rate, positive_duration, positive_load, user_count, worker_count};
use crate::commands::target::Target;
use crate::commands::web_args::{start_dashboard, WebArgs};
use crate::distributed::manager::{run_manager, ManagerConfig};
use crate::distributed::protocol::ScenarioSpec;
use crate::distributed::search::SearchSettings;
use crate::engine::{StopHandle, StopReason};
use crate::exit::{Failure, Outcome};
use crate::live_outputs::web::{verdict_of, CapacityProgress, RunEnd, WebRun, WebServer};
use crate::recorder::Recorder;
use crate::results::{self, default_out_dir, ResultInput};
use crate::runner::{run_plan, RunPlan};
use crate::scenario::{self, parse_duration, Scenario};
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
    #[arg(long, allow_negative_numbers = true, value_parser = arrival_rate)]
    pub max_rate: Option<f64>,
    /// Highest user count tried (closed model) [default: 1000].
    #[arg(long, allow_negative_numbers = true, value_parser = user_count)]
    pub max_users: Option<u64>,
    /// First (lowest) load tried [default: the maximum / 64].
    #[arg(long, allow_negative_numbers = true, value_parser = positive_load)]
    pub start: Option<f64>,
    /// Stop when the gap between the highest held and lowest broken load is at most this
    /// share of the broken one, e.g. 5%.
    #[arg(long, default_value = "5%", allow_negative_numbers = true, value_parser = parse_percent)]
    pub resolution: f64,
    /// Measurement window of each step (judged alone; whole seconds, rounded up).
    #[arg(long, default_value = "30s", allow_negative_numbers = true, value_parser = positive_duration)]
    pub step_time: Duration,
    /// Warm-up of each step (run, not judged; whole seconds, rounded up).
    #[arg(long, default_value = "5s", allow_negative_numbers = true, value_parser = parse_duration)]
    pub warmup: Duration,
    /// The whole search's time cap; when it runs out, the answer is the bounds found so far.
    #[arg(long, default_value = "15m", allow_negative_numbers = true, value_parser = positive_duration)]
    pub budget: Duration,
    /// An SLA for every step, replacing the scenario's of the same metric, e.g. `p95<200ms`,
    /// `p99<1s`, `error_rate<1%`, `dropped_rate<0.1%`, `min_rps>50`. Repeatable.
    #[arg(long = "sla", value_parser = parse_sla)]
    pub slas: Vec<SlaThreshold>,
    /// LLM requests: a step holds only when at least this share of its judged answers met
    /// their request's objectives (`ttft_ms`, `tpot_ms`, `e2e_ms`), e.g. `90%` or `0.9`: the
    /// search finds the highest load whose goodput objective holds. The same as
    /// `--sla min_goodput_ratio>0.9`.
    #[arg(long, value_parser = parse_goodput_ratio)]
    pub min_goodput_ratio: Option<f64>,
    /// Results directory [default: reports/out/<scenario>-capacity-<UTC timestamp>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Drive the search over this many `skein worker`s (this process is their manager).
    #[arg(long, allow_negative_numbers = true, value_parser = worker_count)]
    pub expect_workers: Option<usize>,
    /// Distributed: the address workers connect to.
    #[arg(long, default_value = "127.0.0.1:5557", env = "SKEIN_MANAGER_BIND")]
    pub bind: std::net::SocketAddr,
    /// Distributed: the manager/worker secret.
    #[arg(long, env = "SKEIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Distributed: how long to wait for --expect-workers (exit 3 after).
    #[arg(long, default_value = "60s", allow_negative_numbers = true, value_parser = positive_duration)]
    pub wait_timeout: Duration,
    #[command(flatten)]
    pub tokenizer: crate::commands::tokenizer_arg::TokenizerArg,
    #[command(flatten)]
    pub web: WebArgs,
}

/// `5%` or `0.05` as 0.05, any value; `example` is what the error suggests.
fn parse_share(text: &str, example: &str) -> Result<f64, String> {
    let t = text.trim();
    match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{text}` is not a share; write e.g. {example}"))
}

/// `5%` or `0.05`.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let value = parse_share(text, "`5%` or `0.05`")?;
    if !(value > 0.0 && value < 1.0) {
        return Err(format!("`{text}` must be between 0 and 100 %"));
    }
    Ok(value)
}

/// `p95<200ms`, `p99<1s`, `avg<50ms`, `error_rate<1%`, `dropped_rate<0.1%`, `min_rps>50`,
/// `ttfc_p95<500ms`, `gap_p99<100ms`, `min_items_per_s>1000`.
pub fn parse_sla(text: &str) -> Result<SlaThreshold, String> {
    let usage = || {
        format!("`{text}` is not an SLA; write e.g. `p95<200ms`, `error_rate<1%`, `dropped_rate<0.1%`, `min_rps>50`, `ttfc_p95<500ms`, `gap_p99<100ms`, `min_items_per_s>1000`, `ttft_p95<500ms`, `min_goodput_ratio>90%`")
    };
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (key, value, floor) = match (t.split_once('<'), t.split_once('>')) {
        (Some((k, v)), None) => (k, v, false),
        (None, Some((k, v))) => (k, v, true),
        _ => return Err(usage()),
    };
    // `p95` and `p95_ms` (likewise `ttfc_p95`, `gap_p99`) name the same metric.
    let metric = SlaMetric::from_key(key)
        .or_else(|| SlaMetric::from_key(&format!("{key}_ms")))
        .ok_or_else(usage)?;
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
        SlaMetric::MinRps | SlaMetric::MinItemsPerS | SlaMetric::MinOutputTokensPerS => {
            value.parse::<f64>().map_err(|_| usage())?
        }
        SlaMetric::MinGoodputRatio => parse_goodput_ratio(value)?,
        _ => parse_duration(value)
            .map_err(|_| usage())
            .map(|d| d.as_secs_f64() * 1000.0)?,
    };
    if !(limit.is_finite() && limit >= 0.0) {
        return Err(usage());
    }
    Ok(SlaThreshold::new(metric, None, limit))
}

/// A goodput share: `90%` or `0.9`, above 0 and at most 100 %.
pub fn parse_goodput_ratio(text: &str) -> Result<f64, String> {
    let value = parse_share(text, "`90%` or `0.9`")?;
    if !(value > 0.0 && value <= 1.0) {
        return Err(format!(
            "`{text}`: a goodput share is above 0 and at most 100 %"
        ));
    }
    Ok(value)
}

pub fn execute(args: CapacityArgs) -> anyhow::Result<Outcome> {
    // Checked before anything runs (exit 2); `search` keeps the loaded one.
    let tokenizer = args.tokenizer.load()?;
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
        // Given values were checked as they were parsed (`cli_values`); the defaults are in range.
        LoadModel::Open => args.max_rate.unwrap_or(10_000.0),
        LoadModel::Closed => args.max_users.unwrap_or(1_000) as f64,
    };
    let start = args
        .start
        .unwrap_or(max / 64.0)
        .clamp(1.0_f64.min(max), max);
    let mut args = args;
    args.step_time = whole_seconds(args.step_time);
    args.warmup = whole_seconds(args.warmup);
    if let Some(ratio) = args.min_goodput_ratio {
        args.slas
            .push(SlaThreshold::new(SlaMetric::MinGoodputRatio, None, ratio));
    }
    let thresholds = thresholds(&base, &args.slas);
    let spec = SearchSpec {
        model,
        start,
        max,
        resolution: args.resolution,
    };
    signals::install();
    let web = start_dashboard(&args.web, "capacity")?;
    if let Some(workers) = args.expect_workers {
        return run_distributed(base, thresholds, spec, args, workers, web);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(search(base, thresholds, spec, args, tokenizer, web))
}

async fn search(
    mut base: Scenario,
    thresholds: Vec<SlaThreshold>,
    spec: SearchSpec,
    args: CapacityArgs,
    tokenizer: Option<Arc<crate::users::llm::tokenizer::TokenCounter>>,
    web: Option<WebServer>,
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
    let progress = CapacityProgress::default();
    if let Some(web) = &web {
        web.attach(WebRun {
            feed: recorder.clone(),
            scenario: base.clone(),
            stages: Vec::new(),
            stop: stop.clone(),
            load_control: None,
            capacity: Some(progress.clone()),
            target_pid: target.embedded_pid(),
        });
    }
    let began = Instant::now();
    let mut search = Search::new(spec);
    let needed = needed_requests(&thresholds);
    while let Next::Run { offered, phase } = search.next() {
        if began.elapsed() + args.warmup + args.step_time > args.budget {
            search.stop(SearchOutcome::BudgetExhausted);
            break;
        }
        progress.running(search.steps().len() + 1, offered, phase);
        let mut windows: Vec<Window> = Vec::new();
        let mut warmup = args.warmup;
        let mut extensions = 0;
        loop {
            // Steps start on a second boundary, so the warm-up and the window are whole
            // seconds of the per-second series.
            let subsec = Utc::now().timestamp_subsec_nanos();
            tokio::time::sleep(Duration::from_nanos(u64::from(1_000_000_000 - subsec))).await;
            let plan_scenario = step_scenario(&base, model, offered, warmup + args.step_time);
            let mut plan = RunPlan::new(plan_scenario, target.host.clone(), target.token.clone());
            plan.tokenizer = tokenizer.clone();
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
            &window_of(&recorder, &windows),
            args.warmup,
            extensions,
            &thresholds,
        );
        eprintln!("{}", step_line(search.steps().len() + 1, model, &step));
        progress.finished(&step);
        search.record(step);
    }
    interrupt.abort();
    let target_resources = target.shutdown().await;

    let input = ResultInput {
        scenario: &base,
        stages: &[],
        host: &args.host.clone().unwrap_or_default(),
        command_line: &std::env::args().collect::<Vec<_>>(),
    };
    let mut result = results::build(&input, &recorder, stop.reason(), None);
    result.target_resources = target_resources;
    let reason = stop.reason();
    let (outcome, dir, written) =
        finish(result, search.result(), &thresholds, &base.name, args.out)?;
    if let Some(web) = &web {
        let verdict = verdict_of(reason, outcome == Outcome::Passed);
        web.finish_and_linger(RunEnd::written(verdict, &dir, &written))
            .await;
    }
    Ok(outcome)
}

/// Writes a search's result (its steps as the stages, the SLAs judged on the reported
/// capacity's window), prints the verdict and says how the search ended; returns that, the
/// results directory and the files written (for the dashboard's end).
fn finish(
    mut result: RunResult,
    found: CapacitySearch,
    thresholds: &[SlaThreshold],
    name: &str,
    out: Option<PathBuf>,
) -> anyhow::Result<(Outcome, PathBuf, Vec<PathBuf>)> {
    let model = found.model;
    result.metadata.load_model = model;
    result.thresholds = thresholds.to_vec();
    result.stages = found
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| step_stage(i, s, model, &result.series))
        .collect();
    result.slas = judged_capacity(&found, &result, thresholds);
    let verdict = found.verdict();
    let knee = found.knee_text();
    let outcome = found.outcome;
    let held = found.max_sustainable.is_some();
    result.capacity_search = Some(found);

    let dir = out.unwrap_or_else(|| default_out_dir(&format!("{name}-capacity")));
    let written = reports::write_all(&result, &dir)
        .map_err(|e| Failure::Aborted(format!("cannot write results: {e}")))?;
    println!("{verdict}");
    if let Some(knee) = knee {
        println!("{knee}");
    }
    eprintln!(
        "skein capacity: results in {} (open report.html)",
        dir.display()
    );
    let outcome = match outcome {
        SearchOutcome::Interrupted => Outcome::Interrupted,
        SearchOutcome::Found | SearchOutcome::MaxHeld => Outcome::Passed,
        SearchOutcome::BudgetExhausted if held => Outcome::Passed,
        SearchOutcome::BudgetExhausted | SearchOutcome::LowestBroke => Outcome::SlaFailed,
    };
    Ok((outcome, dir, written))
}

/// The search driven by a manager over `--expect-workers` workers (see
/// [`crate::distributed::search`]).
fn run_distributed(
    base: Scenario,
    thresholds: Vec<SlaThreshold>,
    spec: SearchSpec,
    args: CapacityArgs,
    expect_workers: usize,
    web: Option<WebServer>,
) -> anyhow::Result<Outcome> {
    let token = args.token.clone().unwrap_or_default();
    if token.trim().is_empty() {
        return Err(Failure::Usage(
            "a distributed search needs the manager/worker secret: give --token (or SKEIN_TOKEN)"
                .into(),
        )
        .into());
    }
    let host = args
        .host
        .clone()
        .or_else(|| base.host.clone())
        .ok_or_else(|| {
            Failure::Usage(
                "a distributed search needs a target: give --host or a `host` in the scenario"
                    .into(),
            )
        })?;
    scenario::data_file::check_shippable(&base.data_files).map_err(Failure::Usage)?;
    let source =
        scenario::load_source(&args.scenario).map_err(|e| Failure::Usage(e.to_string()))?;
    let config = ManagerConfig {
        spec: ScenarioSpec {
            name: source.name,
            source: source.file,
            text: source.text,
            users: None,
            spawn_rate: None,
            rate: None,
            run_time_ms: None,
            hash: base.hash(),
            data_files: base.data_files.clone(),
            a2a_version: None,
        },
        search: Some(SearchSettings {
            spec,
            warmup: args.warmup,
            step_time: args.step_time,
            budget: args.budget,
            thresholds: thresholds.clone(),
        }),
        host,
        target_token: args
            .target_token
            .clone()
            .or_else(|| base.token.clone())
            .unwrap_or_else(|| target_server::DEFAULT_TOKEN.to_string()),
        token,
        expect_workers,
        bind: args.bind,
        wait_timeout: args.wait_timeout,
        live_every: Duration::from_secs(5),
        command_line: std::env::args().collect(),
        scenario: base.clone(),
    };
    // One thread: the manager's work per report is a few tens of µs under one lock, so a
    // second runtime thread adds only cross-thread wake-ups (they were most of its CPU at a
    // few hundred workers; see docs/distributed.md "The manager's cost").
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(run_manager(config, web.as_ref()))?;
    let interrupted = outcome.interrupted;
    let found = outcome
        .search
        .ok_or_else(|| Failure::Aborted("the manager ran no search".into()))?;
    let (outcome, dir, written) = finish(outcome.result, found, &thresholds, &base.name, args.out)?;
    if let Some(web) = &web {
        let verdict = verdict_of(
            interrupted.then_some(StopReason::Interrupted),
            outcome == Outcome::Passed,
        );
        runtime.block_on(web.finish_and_linger(RunEnd::written(verdict, &dir, &written)));
    }
    Ok(outcome)
}

/// The windows' seconds of the recorder's series, added up.
fn window_of(recorder: &Recorder, windows: &[Window]) -> StageResult {
    let (_, _, series) = recorder.totals();
    window_stage(&series, windows)
}

/// Steps are measured in whole seconds of the per-second series.
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
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
        let g = parse_sla("min_goodput_ratio>90%").unwrap();
        assert_eq!((g.metric, g.limit), (SlaMetric::MinGoodputRatio, 0.9));
        assert_eq!(parse_sla("min_goodput_ratio>1").unwrap().limit, 1.0);
        assert!(parse_sla("min_goodput_ratio>150%").is_err());
        assert_eq!(
            parse_sla("min_output_tokens_per_s>200").unwrap().limit,
            200.0
        );
        assert_eq!(parse_sla("ttft_p95<0.5s").unwrap().limit, 500.0);
        let t = parse_sla("ttfc_p95<500ms").unwrap();
        assert_eq!((t.metric, t.limit), (SlaMetric::TtfcP95Ms, 500.0));
        assert_eq!(parse_sla("gap_p99_ms<0.1s").unwrap().limit, 100.0);
        let t = parse_sla("min_items_per_s>1000").unwrap();
        assert_eq!((t.metric, t.limit), (SlaMetric::MinItemsPerS, 1000.0));
        for bad in [
            "ttfc_p95>1s",
            "min_items_per_s<5",
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
}
