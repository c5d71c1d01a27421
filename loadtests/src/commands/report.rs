//! `skein report`: render (and merge) results into reports.
use std::path::{Path, PathBuf};

use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// results.json files or run directories containing one; several are merged exactly.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output directory (default: the input's directory for one input, else reports/out/merged-<UTC>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A run directory means its results.json.
pub fn results_path(input: &Path) -> PathBuf {
    if input.is_dir() {
        input.join("results.json")
    } else {
        input.to_path_buf()
    }
}

pub fn read_inputs(inputs: &[PathBuf]) -> Result<Vec<reports::RunResult>, Failure> {
    inputs
        .iter()
        .map(|i| {
            reports::RunResult::read_from(&results_path(i))
                .map_err(|e| Failure::Usage(e.to_string()))
        })
        .collect()
}

pub fn execute(args: ReportArgs) -> anyhow::Result<Outcome> {
    let results = read_inputs(&args.inputs)?;
    let result = if results.len() == 1 {
        results.into_iter().next().expect("one result")
    } else {
        reports::merge(&results).map_err(|e| Failure::Usage(e.to_string()))?
    };
    let out = match args.out {
        Some(out) => out,
        None if args.inputs.len() == 1 => results_path(&args.inputs[0])
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        None => crate::results::default_out_dir("merged"),
    };
    let written = reports::write_all(&result, &out).map_err(|e| Failure::Aborted(e.to_string()))?;
    println!("{}", reports::markdown::verdict_line(&result));
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(if result.passed() {
        Outcome::Passed
    } else {
        Outcome::SlaFailed
    })
}
