//! `skein manager` (not built yet).
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct ManagerArgs {}

pub fn execute(_args: ManagerArgs) -> anyhow::Result<Outcome> {
    Err(Failure::Usage("`skein manager` is not available in this build yet".into()).into())
}
