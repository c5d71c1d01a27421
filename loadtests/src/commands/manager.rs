//! `skein manager`: coordinate a distributed run.
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use crate::cli_values::{positive_duration, worker_count};
use crate::commands::load_args::LoadArgs;
use crate::commands::web_args::{start_dashboard, WebArgs};
use crate::distributed::manager::{default_out, run_manager, ManagerConfig};
use crate::distributed::protocol::ScenarioSpec;
use crate::engine::StopReason;
use crate::exit::{Failure, Outcome};
use crate::live::summary_table;
use crate::live_outputs::web::{verdict_of, RunEnd};
use crate::scenario::{self, file};

#[derive(Debug, clap::Args)]
pub struct ManagerArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Workers to wait for before starting.
    #[arg(long, allow_negative_numbers = true, value_parser = worker_count)]
    pub expect_workers: usize,
    /// Address the workers connect to. Loopback by default; 0.0.0.0:5557 to accept remote workers.
    #[arg(long, default_value = "127.0.0.1:5557", env = "SKEIN_MANAGER_BIND")]
    pub bind: SocketAddr,
    /// Shared secret of the manager/worker channel (required on every message both ways).
    #[arg(long, env = "SKEIN_TOKEN", hide_env_values = true)]
    pub token: String,
    /// How long to wait for --expect-workers before giving up (exit 3).
    #[arg(long, default_value = "60s", allow_negative_numbers = true, value_parser = positive_duration)]
    pub wait_timeout: Duration,
    #[command(flatten)]
    pub web: WebArgs,
}

pub fn execute(args: ManagerArgs) -> anyhow::Result<Outcome> {
    if args.token.trim().is_empty() {
        return Err(Failure::Usage("--token (or SKEIN_TOKEN) must not be empty".into()).into());
    }
    let load = args.load;
    let source = scenario::load_source(load.scenario.as_deref().unwrap_or("light"))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let overrides = load.overrides();
    let scenario = file::parse(&source.name, &source.file, &source.text)
        .and_then(|s| s.with_overrides(&overrides))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    scenario::data_file::check_shippable(&scenario.data_files).map_err(Failure::Usage)?;
    let host = scenario.host.clone().ok_or_else(|| {
        Failure::Usage(
            "a distributed run needs a target: give --host or a `host` in the scenario".into(),
        )
    })?;
    let spec = ScenarioSpec {
        name: source.name,
        source: source.file,
        text: source.text,
        users: load.users,
        spawn_rate: load.spawn_rate,
        rate: load.rate,
        run_time_ms: load
            .run_time
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        hash: scenario.hash(),
        data_files: scenario.data_files.clone(),
        a2a_version: load.a2a_version.clone(),
    };
    let target_token = load
        .target_token
        .clone()
        .or_else(|| scenario.token.clone())
        .unwrap_or_else(|| target_server::DEFAULT_TOKEN.to_string());
    let name = scenario.name.clone();
    let config = ManagerConfig {
        scenario,
        search: None,
        spec,
        host,
        target_token,
        token: args.token,
        expect_workers: args.expect_workers,
        bind: args.bind,
        wait_timeout: args.wait_timeout,
        live_every: load.live_every(),
        command_line: std::env::args().collect(),
    };
    // One thread: the manager's work per report is a few tens of µs under one lock, so a
    // second runtime thread adds only cross-thread wake-ups (they were most of its CPU at a
    // few hundred workers; see docs/distributed.md "The manager's cost").
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let web = start_dashboard(&args.web, "manager")?;
    let outcome = runtime.block_on(run_manager(config, web.as_ref()))?;
    let result = outcome.result;
    println!("{}", summary_table(&result));
    let dir = load.out.unwrap_or_else(|| default_out(&name));
    let written = reports::write_all(&result, &dir)
        .map_err(|e| Failure::Aborted(format!("cannot write results: {e}")))?;
    eprintln!(
        "skein manager: merged results of {} worker(s) in {}",
        result.workers.len(),
        dir.display()
    );
    for w in result.workers.iter().filter(|w| w.lost_at.is_some()) {
        eprintln!(
            "skein manager: worker {} was lost; the result is partial",
            w.worker_id
        );
    }
    if let Some(web) = &web {
        let reason = outcome.interrupted.then_some(StopReason::Interrupted);
        let verdict = verdict_of(reason, result.passed());
        runtime.block_on(web.finish_and_linger(RunEnd::written(verdict, &dir, &written)));
    }
    if outcome.all_lost {
        return Err(
            Failure::Aborted("every worker was lost; partial results written".into()).into(),
        );
    }
    Ok(if outcome.interrupted {
        Outcome::Interrupted
    } else if result.passed() {
        Outcome::Passed
    } else {
        Outcome::SlaFailed
    })
}
