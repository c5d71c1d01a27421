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
