//! `skein compare` (not built yet).
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {}

pub fn execute(_args: CompareArgs) -> anyhow::Result<Outcome> {
    Err(Failure::Usage("`skein compare` is not available in this build yet".into()).into())
}
