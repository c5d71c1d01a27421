//! One module per `skein` subcommand; [`dispatch`] routes a parsed command to it.
pub mod compare;
pub mod manager;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod worker;

use crate::cli::Command;
use crate::exit::Outcome;

pub fn dispatch(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Run(args) => run::execute(args),
        Command::Demo(args) => run::demo(args),
        Command::Scenarios(args) => scenarios::execute(args),
        Command::Report(args) => report::execute(args),
        Command::Compare(args) => compare::execute(args),
        Command::Manager(args) => manager::execute(args),
        Command::Worker(args) => worker::execute(args),
    }
}
