//! The arguments `skein run` and `skein manager` share.
use std::path::PathBuf;
use std::time::Duration;

use crate::cli_values::{arrival_rate, positive_duration, spawn_rate, user_count, whole_seconds};
use crate::scenario::Overrides;

/// What `skein run` and `skein manager` share: the scenario, the target and the overrides.
///
/// Names follow Locust (`-H/--host`, `-u`, `-r`, `-t`); `--target-token` is always the
/// target's token, `--token` (only on `manager`/`worker`) always the manager/worker secret.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Shipped scenario name (see `skein scenarios`) or path to a scenario .toml file
    /// [default: light; `skein run` with no host either runs 30 s like `skein demo`].
    #[arg(long, short = 's')]
    pub scenario: Option<String>,
    /// Target base URL (http or https), e.g. http://127.0.0.1:8080 [default: the scenario's
    /// host; `skein run` without one starts the reference server in-process].
    #[arg(long, short = 'H', env = "SKEIN_HOST")]
    pub host: Option<String>,
    /// Bearer token for the target's API [default: the scenario's, else the reference server's].
    #[arg(long, env = "SKEIN_TARGET_TOKEN", hide_env_values = true)]
    pub target_token: Option<String>,
    /// Users (peak users of a staged scenario, whose stages are scaled to it).
    #[arg(long, short = 'u', allow_negative_numbers = true, value_parser = user_count)]
    pub users: Option<u64>,
    /// Users started per second (every stage of a staged scenario).
    #[arg(long, short = 'r', allow_negative_numbers = true, value_parser = spawn_rate)]
    pub spawn_rate: Option<f64>,
    /// Arrivals per second, the open model (peak rate of a staged scenario, whose stages are
    /// scaled to it; a closed scenario's stages become rates in proportion to their users).
    #[arg(long, allow_negative_numbers = true, value_parser = arrival_rate)]
    pub rate: Option<f64>,
    /// Run time, e.g. 30s, 5m, 1h30m (a staged scenario's stages are scaled to fit).
    #[arg(long, short = 't', allow_negative_numbers = true, value_parser = positive_duration)]
    pub run_time: Option<Duration>,
    /// Results directory [default: reports/out/<scenario>-<UTC timestamp>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Which A2A generation AgentChatUsers speak: auto (the agent card decides), 1.0 or 0.3
    /// [default: the scenario's `a2a_version`, else auto].
    #[arg(long, value_name = "auto|1.0|0.3")]
    pub a2a_version: Option<String>,
    /// Seconds between live lines.
    #[arg(long, default_value = "5", allow_negative_numbers = true, value_parser = whole_seconds)]
    pub live_every: u64,
}

impl LoadArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            users: self.users,
            spawn_rate: self.spawn_rate,
            rate: self.rate,
            run_time: self.run_time,
            host: self.host.clone(),
            a2a_version: self.a2a_version.clone(),
        }
    }

    pub fn live_every(&self) -> Duration {
        Duration::from_secs(self.live_every)
    }
}
