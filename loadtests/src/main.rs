//! The `skein` binary: Skein's command line with the built-in user classes.
fn main() -> std::process::ExitCode {
    skein::main()
}
