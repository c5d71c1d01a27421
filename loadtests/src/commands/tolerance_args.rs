//! The regression gate's flags, shared by `skein compare` and `skein history` so both judge
//! a regression by the same rule with the same defaults.
use reports::compare::Tolerances;

use crate::exit::Failure;

#[derive(Debug, Clone, clap::Args)]
pub struct ToleranceArgs {
    /// Allowed relative rise of every latency percentile and the error rate, and drop of rps, in percent.
    #[arg(long, default_value_t = 10.0)]
    pub threshold: f64,
    /// Override for p50 (percent).
    #[arg(long)]
    pub p50: Option<f64>,
    /// Override for p95 (percent).
    #[arg(long)]
    pub p95: Option<f64>,
    /// Override for p99 (percent).
    #[arg(long)]
    pub p99: Option<f64>,
    /// Override for the throughput drop (percent).
    #[arg(long)]
    pub rps: Option<f64>,
    /// Override for the error-rate rise (percent, relative).
    #[arg(long)]
    pub error_rate: Option<f64>,
    /// Request names with fewer requests on either side are shown but not judged.
    #[arg(long, default_value_t = 20)]
    pub min_requests: u64,
    /// A change over its threshold is a regression only beyond this many standard errors of
    /// the difference, estimated from each run's own variation (see docs/reports.md).
    #[arg(long, default_value_t = reports::noise::DEFAULT_Z, value_name = "Z")]
    pub noise_z: f64,
    /// Judge on the thresholds alone, ignoring how noisy the runs are.
    #[arg(long)]
    pub ignore_noise: bool,
}

impl ToleranceArgs {
    /// The tolerances as fractions; a negative or non-finite percentage is a usage error.
    pub fn tolerances(&self) -> Result<Tolerances, Failure> {
        for (flag, value) in [
            ("--threshold", Some(self.threshold)),
            ("--p50", self.p50),
            ("--p95", self.p95),
            ("--p99", self.p99),
            ("--rps", self.rps),
            ("--error-rate", self.error_rate),
            ("--noise-z", Some(self.noise_z)),
        ] {
            if let Some(v) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Failure::Usage(format!(
                    "{flag} {v}: give a percentage of 0 or more, e.g. {flag} 10"
                )));
            }
        }
        let pct = |v: Option<f64>| v.unwrap_or(self.threshold) / 100.0;
        Ok(Tolerances {
            p50: pct(self.p50),
            p95: pct(self.p95),
            p99: pct(self.p99),
            rps: pct(self.rps),
            error_rate: pct(self.error_rate),
            min_requests: self.min_requests,
            noise_z: (!self.ignore_noise).then_some(self.noise_z),
        })
    }
}
