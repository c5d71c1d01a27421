//! One module per `skein` subcommand ([`crate::cli::Command::execute`] routes to them).
pub mod capacity;
pub mod compare;
pub mod live_args;
pub mod load_args;
pub mod manager;
pub mod reference_server;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod target;
pub mod web_args;
pub mod worker;
