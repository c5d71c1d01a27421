//! The regression gate's flags, shared by `skein compare` and `skein history` so both judge
//! a regression by the same rule with the same defaults.
use reports::compare::Tolerances;

use crate::cli_values::{count, percentage, standard_errors};

#[derive(Debug, Clone, clap::Args)]
pub struct ToleranceArgs {
    /// Allowed relative rise of every latency percentile and the error rate, and drop of rps, in percent.
    #[arg(long, default_value = "10", allow_negative_numbers = true, value_parser = percentage)]
    pub threshold: f64,
    /// Override for p50 (percent).
    #[arg(long, allow_negative_numbers = true, value_parser = percentage)]
    pub p50: Option<f64>,
    /// Override for p95 (percent).
    #[arg(long, allow_negative_numbers = true, value_parser = percentage)]
    pub p95: Option<f64>,
    /// Override for p99 (percent).
    #[arg(long, allow_negative_numbers = true, value_parser = percentage)]
    pub p99: Option<f64>,
    /// Override for the throughput drop (percent).
    #[arg(long, allow_negative_numbers = true, value_parser = percentage)]
    pub rps: Option<f64>,
    /// Override for the error-rate rise (percent, relative).
    #[arg(long, allow_negative_numbers = true, value_parser = percentage)]
    pub error_rate: Option<f64>,
    /// Request names with fewer requests on either side are shown but not judged.
    #[arg(long, default_value = "20", allow_negative_numbers = true, value_parser = count)]
    pub min_requests: u64,
    /// A change over its threshold is a regression only beyond this many standard errors of
    /// the difference, estimated from each run's own variation (see docs/reports.md).
    #[arg(long, default_value_t = reports::noise::DEFAULT_Z, value_name = "Z",
          allow_negative_numbers = true, value_parser = standard_errors)]
    pub noise_z: f64,
    /// Judge on the thresholds alone, ignoring how noisy the runs are.
    #[arg(long)]
    pub ignore_noise: bool,
}

impl ToleranceArgs {
    /// The tolerances as fractions (the percentages were checked as clap parsed them).
    pub fn tolerances(&self) -> Tolerances {
        let pct = |v: Option<f64>| v.unwrap_or(self.threshold) / 100.0;
        Tolerances {
            p50: pct(self.p50),
            p95: pct(self.p95),
            p99: pct(self.p99),
            rps: pct(self.rps),
            error_rate: pct(self.error_rate),
            min_requests: self.min_requests,
            noise_z: (!self.ignore_noise).then_some(self.noise_z),
        }
    }
}
