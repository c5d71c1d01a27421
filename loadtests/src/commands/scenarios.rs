//! `skein scenarios` (not built yet).
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct ScenariosArgs {}

pub fn execute(_args: ScenariosArgs) -> anyhow::Result<Outcome> {
    Err(Failure::Usage("`skein scenarios` is not available in this build yet".into()).into())
}
