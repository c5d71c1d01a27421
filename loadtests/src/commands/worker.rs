//! `skein worker` (not built yet).
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {}

pub fn execute(_args: WorkerArgs) -> anyhow::Result<Outcome> {
    Err(Failure::Usage("`skein worker` is not available in this build yet".into()).into())
}
