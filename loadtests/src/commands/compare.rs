//! `skein compare`: the baseline regression gate.
use std::path::PathBuf;

use reports::compare::compare;

use crate::commands::report::read_inputs;
use crate::commands::tolerance_args::ToleranceArgs;
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline run (results.json or its directory).
    #[arg(long)]
    pub baseline: PathBuf,
    /// The run to judge (results.json or its directory).
    pub current: PathBuf,
    #[command(flatten)]
    pub gate: ToleranceArgs,
    /// Also write the table as Markdown to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Also write one self-contained HTML page (baseline and current side by side) to this file.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
}

pub fn execute(args: CompareArgs) -> anyhow::Result<Outcome> {
    let tolerances = args.gate.tolerances();
    let runs = read_inputs(&[args.baseline.clone(), args.current.clone()])?;
    let (baseline, current) = (&runs[0], &runs[1]);
    if baseline.metadata.scenario_name != current.metadata.scenario_name {
        return Err(Failure::Usage(format!(
            "the runs are of different scenarios (`{}` vs `{}`): compare runs of one scenario",
            baseline.metadata.scenario_name, current.metadata.scenario_name
        ))
        .into());
    }
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
