//! One module per `skein` subcommand ([`crate::cli::Command::execute`] routes to them).
pub mod capacity;
pub mod compare;
pub mod history;
pub mod live_args;
pub mod load_args;
pub mod manager;
pub mod reference_server;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod target;
pub mod tokenizer_arg;
pub mod tolerance_args;
pub mod web_args;
pub mod worker;
