//! `skein run` and `skein demo` (not built yet).
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct RunArgs {}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

pub fn execute(_args: RunArgs) -> anyhow::Result<Outcome> {
    Err(Failure::Usage("`skein run` is not available in this build yet".into()).into())
}

pub fn demo(_args: DemoArgs) -> anyhow::Result<Outcome> {
    Err(Failure::Usage("`skein demo` is not available in this build yet".into()).into())
}
