//! `skein run` and `skein demo`: load a scenario, run it headless, write the results.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::cli_values::positive_duration;
use crate::commands::live_args::LiveArgs;
use crate::commands::load_args::LoadArgs;
use crate::commands::target::Target;
use crate::commands::tokenizer_arg::TokenizerArg;
use crate::commands::web_args::WebArgs;
use crate::engine::{StopHandle, StopReason};
use crate::exit::{Failure, Outcome};
use crate::live::{spawn_live_line, summary_table};
use crate::live_outputs::web::{verdict_of, RunEnd, WebRun};
use crate::live_outputs::LiveConfig;
use crate::live_outputs::LiveOutputs;
use crate::load_control::{ControlKind, LoadControl};
use crate::plan::order_of;
use crate::recorder::Recorder;
use crate::results::default_out_dir;
use crate::runner::{run_plan, RunPlan};
use crate::scenario::{self, Overrides, Stage};
use crate::signals;
use crate::users::declared::skipped_notes;
use crate::users::llm::tokenizer::TokenCounter;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub tokenizer: TokenizerArg,
    #[command(flatten)]
    pub web: WebArgs,
    /// Closed model with --web: the most users the dashboard may raise the run to (default
    /// twice the scenario's peak). All are started at once and those beyond the current count
    /// wait, holding no session (about 10 KiB each).
    #[arg(long, value_name = "USERS", allow_negative_numbers = true, value_parser = crate::cli_values::user_count, requires = "web")]
    pub web_max_users: Option<u64>,
    /// Not a `run` flag: caught to say which flag is meant.
    #[arg(long = "token", hide = true)]
    pub misplaced_token: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How long the demo runs.
    #[arg(long, short = 't', default_value = "30s", allow_negative_numbers = true, value_parser = positive_duration)]
    pub run_time: Duration,
    /// Results directory (default: reports/out/demo-<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A bare `skein run` (no scenario, host or run time) is the demo's short run.
const BARE_RUN_TIME: Duration = Duration::from_secs(30);

pub fn execute(args: RunArgs) -> anyhow::Result<Outcome> {
    if args.misplaced_token.is_some() {
        return Err(Failure::Usage(
            "`skein run` has no --token: the target's token is --target-token (or SKEIN_TARGET_TOKEN); --token is the manager/worker secret of `skein manager` and `skein worker`".into(),
        )
        .into());
    }
    let load = args.load;
    let bare = load.scenario.is_none() && load.host.is_none() && load.run_time.is_none();
    let mut overrides = load.overrides();
    if bare {
        overrides.run_time = Some(BARE_RUN_TIME);
    }
    let scenario = scenario::load(load.scenario.as_deref().unwrap_or("light"))
        .and_then(|s| s.with_overrides(&overrides))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let live_every = load.live_every();
    let tokenizer = args.tokenizer.load()?;
    let live = LiveConfig {
        web: args.web.config(),
        ..args.live.config()
    };
    let max_users = web_max_users(&scenario, args.web_max_users)?;
    run_scenario(
        scenario,
        load.target_token,
        load.out,
        live_every,
        LiveSetup { live, max_users },
        tokenizer,
    )
}

pub fn demo(args: DemoArgs) -> anyhow::Result<Outcome> {
    let mut scenario = scenario::load("light")
        .and_then(|s| {
            s.with_overrides(&Overrides {
                run_time: Some(args.run_time),
                ..Overrides::default()
            })
        })
        .map_err(|e| Failure::Usage(e.to_string()))?;
    scenario.name = "demo".into();
    scenario.host = None;
    run_scenario(
        scenario,
        None,
        args.out,
        Duration::from_secs(5),
        LiveSetup::default(),
        None,
    )
}

/// What a run serves live: its outputs, and for a closed run with a dashboard the most users
/// it may be raised to.
#[derive(Default)]
struct LiveSetup {
    live: LiveConfig,
    max_users: u64,
}

/// The most users a closed run's dashboard may raise it to: `asked`, at least the scenario's
/// peak, or twice the peak.
fn web_max_users(scenario: &scenario::Scenario, asked: Option<u64>) -> Result<u64, Failure> {
    let peak = scenario.stages.iter().map(|s| s.users).max().unwrap_or(0);
    match asked {
        Some(max) if max < peak => Err(Failure::Usage(format!(
            "--web-max-users {max} is below the {peak} users the scenario itself reaches; give at least {peak}"
        ))),
        Some(max) => Ok(max),
        None => Ok(peak.saturating_mul(2).clamp(1, crate::scenario::shape::MAX_USERS)),
    }
}

fn run_scenario(
    scenario: scenario::Scenario,
    target_token: Option<String>,
    out: Option<PathBuf>,
    live_every: Duration,
    setup: LiveSetup,
    tokenizer: Option<Arc<TokenCounter>>,
) -> anyhow::Result<Outcome> {
    signals::install();
    let live_outputs =
        LiveOutputs::start(&setup.live).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(addr) = live_outputs.metrics_addr() {
        eprintln!("skein: Prometheus metrics at http://{addr}/metrics");
    }
    if let Some(web) = live_outputs.web() {
        eprintln!("skein: live dashboard at {}", web.url());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let target = Target::resolve(scenario.host.as_deref(), target_token, scenario.token.as_deref()).await?;
        let (host, token) = (target.host.clone(), target.token.clone());
        eprintln!(
            "skein: scenario `{}` ({}), {}, {} against {host}",
            scenario.name,
            scenario.source,
            scenario.describe_load(),
            crate::scenario::format_duration(scenario.run_time())
        );

        let mut plan = RunPlan::new(scenario, host, token);
        plan.tokenizer = tokenizer;
        let recorder = Arc::new(Recorder::new());
        live_outputs.attach(recorder.clone(), &plan.scenario);
        let stop = StopHandle::default();
        if let Some(web) = live_outputs.web() {
            plan.launch.load_control = Some(if plan.launch.is_open() {
                LoadControl::new(ControlKind::Rate)
            } else {
                // Every user it may have is started, in the plan's order.
                let scenario = &plan.scenario;
                let most = [Stage::closed(setup.max_users, 1.0, Duration::ZERO)];
                plan.launch.start_order = order_of(&scenario.classes, scenario.allocation, &most);
                LoadControl::new(ControlKind::Users {
                    max_users: setup.max_users,
                })
            });
            web.attach(WebRun {
                feed: recorder.clone(),
                scenario: plan.scenario.clone(),
                stages: plan.launch.stages.clone(),
                stop: stop.clone(),
                load_control: plan.launch.load_control.clone(),
                capacity: None,
                target_pid: target.embedded_pid(),
            });
        }
        let interrupt = {
            let stop = stop.clone();
            tokio::spawn(async move {
                signals::first_interrupt().await;
                eprintln!("skein: interrupted: stopping users, results will be written (again to exit at once)");
                stop.stop(StopReason::Interrupted);
            })
        };
        let live = spawn_live_line(recorder.clone(), plan.run_time(), live_every);
        let result = run_plan(&plan, recorder.clone(), &stop).await;
        live.abort();
        interrupt.abort();
        let target_resources = target.shutdown().await;
        let mut result = result.map_err(|e| Failure::Aborted(e.to_string()))?;
        result.target_resources = target_resources;
        live_outputs
            .finish()
            .map_err(|e| Failure::Aborted(e.to_string()))?;

        println!("{}", summary_table(&result));
        for note in skipped_notes(&result.skipped_requests) {
            eprintln!("skein: {note}");
        }
        if plan.launch.is_open() {
            let lag = recorder.send_lag();
            eprintln!(
                "skein: arrivals went out {:.2} ms (p99) after their intended instants{}",
                lag.value_at_quantile(0.99),
                if lag.value_at_quantile(0.99) > 10.0 {
                    ": the generator fell behind its schedule; intended-time latency includes it"
                } else {
                    ""
                }
            );
        }
        let dir = out.unwrap_or_else(|| default_out_dir(&plan.scenario.name));
        let written = reports::write_all(&result, &dir)
            .map_err(|e| Failure::Aborted(format!("cannot write results: {e}")))?;
        eprintln!(
            "skein: results in {} ({} files; open report.html)",
            dir.display(),
            written.len()
        );
        if let Some(web) = live_outputs.web() {
            web.finish_and_linger(RunEnd::written(
                verdict_of(stop.reason(), result.passed()),
                &dir,
                &written,
            ))
            .await;
        }
        Ok(match stop.reason() {
            Some(StopReason::Interrupted) => Outcome::Interrupted,
            Some(StopReason::Aborted) => {
                return Err(
                    Failure::Aborted("the run was aborted; partial results written".into()).into(),
                )
            }
            None | Some(StopReason::Commanded) if result.passed() => Outcome::Passed,
            None | Some(StopReason::Commanded) => Outcome::SlaFailed,
        })
    })
}
