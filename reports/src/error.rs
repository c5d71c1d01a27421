//! Errors of the reports library.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give at least one results file")]
    Empty,
    #[error("cannot merge results of different scenarios: `{first}` (hash {first_hash}) and `{other}` (hash {other_hash})")]
    ScenarioMismatch {
        first: String,
        first_hash: String,
        other: String,
        other_hash: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write CSV {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("cannot draw chart `{chart}`: {problem}")]
    Chart { chart: String, problem: String },
    #[error(transparent)]
    Model(#[from] ModelError),
}

#[derive(Debug, thiserror::Error)]
pub enum ScreenshotError {
    #[error("Chromium not found (tried chromium, chromium-browser, google-chrome): install it, e.g. `apt-get install chromium`")]
    NoChromium,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("chromium exited with {0}")]
    Failed(String),
    #[error("chromium did not finish within {0:?} and was killed")]
    TimedOut(std::time::Duration),
}
