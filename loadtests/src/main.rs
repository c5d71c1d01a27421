//! The `skein` binary: parse arguments, run the command, map the outcome to a documented exit code.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = skein::cli::Cli::parse();
    skein::exit::report(skein::run(cli))
}
