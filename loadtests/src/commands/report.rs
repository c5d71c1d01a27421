//! `skein report` (not built yet).
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {}

pub fn execute(_args: ReportArgs) -> anyhow::Result<Outcome> {
    Err(Failure::Usage("`skein report` is not available in this build yet".into()).into())
}
