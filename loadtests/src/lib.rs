//! Skein: a Locust-style load generator for AI-agent platforms.
//!
//! The data path: scenario file → validated [`scenario::Scenario`] → [`plan::LaunchPlan`]
//! (users in start order, stages, think times; a worker's dealt share) → an executor in
//! [`engine`] → the [`users`]' requests → [`recorder`] → [`results`] (stages, SLAs) → reports
//! (the `reports` crate: merge, renderers). [`distributed`] sits beside [`runner`]: a worker
//! runs the same [`runner::run_plan`] as a standalone run, on its share.
//!
//! Map of the crate (dependencies point down this list):
//! - [`cli`], [`commands`]: the command line and one module per subcommand;
//!   [`cli_values`]: the numeric flags' value parsers, which judge a value as it is parsed.
//! - [`runner`]: one process's run; [`distributed`]: manager, worker, protocol, shares.
//! - [`capacity`]: `skein capacity`'s search and its steps.
//! - [`engine`]: executors; the only code that knows goose.
//! - [`plan`]: launch plans; [`results`]: measurements into a result; [`load_control`]: the
//!   live change of a run's load (rate or users) and the stages it leaves in the results.
//! - [`scenario`]: scenario files, validation, CLI overrides, the scenario hash.
//! - [`users`]: the user classes against Skein's own user model.
//! - [`transport`]: the HTTP client stack every protocol sends on (Skein's own HTTP/1.1
//!   connections, reqwest for the rest), JSON-RPC on the wire.
//! - [`recorder`]: the hot path: latencies into sharded HDR histograms.
//! - [`live_outputs`]: Prometheus `/metrics`, per-second JSON lines and the `--web`
//!   dashboard during a run.
//! - [`live`] (live line, summary table), [`signals`] (SIGINT/SIGTERM), [`exit`] (exit
//!   codes), [`resources`] (the process's CPU and memory).
pub mod capacity;
pub mod cli;
pub mod cli_values;
pub mod commands;
pub mod distributed;
pub mod engine;
pub mod exit;
pub mod live;
pub mod live_outputs;
pub mod load_control;
pub mod plan;
pub mod recorder;
pub mod resources;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod signals;
pub mod transport;
pub mod users;

/// Runs one parsed command line and returns how the run ended.
pub fn run(cli: cli::Cli) -> anyhow::Result<exit::Outcome> {
    cli.command.execute()
}

/// The `skein` command line: parses the arguments, runs the command and maps its outcome to
/// a documented exit code. A program that registers its own user classes (see
/// [`users::custom`]) ends its `main` with this.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    exit::report(run(cli::Cli::parse()))
}
