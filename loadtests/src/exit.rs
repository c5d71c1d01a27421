//! The documented exit codes, and the single place where a command's result becomes one.
use std::process::ExitCode;

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: every SLA held (or the command had nothing to judge).
    Passed,
    /// Exit 1: an SLA failed, or `compare` found a regression.
    SlaFailed,
    /// Exit 130: interrupted; results were still written.
    Interrupted,
}

/// An error that says which documented exit code it deserves. Errors without one in their
/// chain exit 3 (aborted): usage problems must be classified as such where they are found.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Exit 2: bad arguments, bad scenario file, unreadable or mismatched inputs.
    #[error("{0}")]
    Usage(String),
    /// Exit 3: target unreachable, or the run could not go on.
    #[error("{0}")]
    Aborted(String),
}

pub const EXIT_PASSED: u8 = 0;
pub const EXIT_SLA_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_ABORTED: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Passed => EXIT_PASSED,
            Outcome::SlaFailed => EXIT_SLA_FAILED,
            Outcome::Interrupted => EXIT_INTERRUPTED,
        }
    }
}

/// The exit code an error maps to: the first [`Failure`] in its chain decides.
pub fn code_of(error: &anyhow::Error) -> u8 {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
        .map_or(EXIT_ABORTED, |failure| match failure {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Aborted(_) => EXIT_ABORTED,
        })
}

/// Prints an error with its whole cause chain and turns the result into the process exit code.
pub fn report(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(code_of(&error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_failure_deep_in_chain_exits_2() {
        let err: anyhow::Result<()> = Err(Failure::Usage("bad file".into()).into());
        let err = err.context("loading scenario").unwrap_err();
        assert_eq!(code_of(&err), EXIT_USAGE);
    }

    #[test]
    fn unclassified_error_exits_3() {
        assert_eq!(code_of(&anyhow::anyhow!("socket closed")), EXIT_ABORTED);
    }
}
