//! `skein compare`: the baseline regression gate.
use std::path::PathBuf;

use reports::compare::{compare, Tolerances};

use crate::cli_values::{count, percentage, standard_errors};
use crate::commands::report::read_inputs;
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline run (results.json or its directory).
    #[arg(long)]
    pub baseline: PathBuf,
    /// The run to judge (results.json or its directory).
    pub current: PathBuf,
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
    /// Also write the table as Markdown to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Also write one self-contained HTML page (baseline and current side by side) to this file.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
    /// A change over its threshold is a regression only beyond this many standard errors of
    /// the difference, estimated from each run's own variation (see docs/reports.md).
    #[arg(long, default_value_t = reports::noise::DEFAULT_Z, value_name = "Z",
          allow_negative_numbers = true, value_parser = standard_errors)]
    pub noise_z: f64,
    /// Judge on the thresholds alone, ignoring how noisy the runs are.
    #[arg(long)]
    pub ignore_noise: bool,
}

pub fn execute(args: CompareArgs) -> anyhow::Result<Outcome> {
    let runs = read_inputs(&[args.baseline.clone(), args.current.clone()])?;
    let (baseline, current) = (&runs[0], &runs[1]);
    if baseline.metadata.scenario_name != current.metadata.scenario_name {
        return Err(Failure::Usage(format!(
            "the runs are of different scenarios (`{}` vs `{}`): compare runs of one scenario",
            baseline.metadata.scenario_name, current.metadata.scenario_name
        ))
        .into());
    }
    let pct = |v: Option<f64>| v.unwrap_or(args.threshold) / 100.0;
    let tolerances = Tolerances {
        p50: pct(args.p50),
        p95: pct(args.p95),
        p99: pct(args.p99),
        rps: pct(args.rps),
        error_rate: pct(args.error_rate),
        min_requests: args.min_requests,
        noise_z: (!args.ignore_noise).then_some(args.noise_z),
    };
    let comparison = compare(baseline, current, &tolerances);
    print!("{}", comparison.to_text());
    if let Some(path) = &args.markdown {
        std::fs::write(path, comparison.to_markdown())
            .map_err(|e| Failure::Aborted(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.html {
        let page = reports::compare_html::render(&comparison, baseline, current, &tolerances)
            .map_err(|e| Failure::Aborted(format!("cannot render the comparison page: {e}")))?;
        std::fs::write(path, page)
            .map_err(|e| Failure::Aborted(format!("cannot write {}: {e}", path.display())))?;
    }
    let regressions = comparison.regressions();
    if regressions.is_empty() {
        println!("\nno regression over the thresholds");
        Ok(Outcome::Passed)
    } else {
        println!("\n{} regression(s) over the thresholds", regressions.len());
        Ok(Outcome::SlaFailed)
    }
}
