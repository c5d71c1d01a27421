//! Writing every output of a run into one directory.
use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::model::RunResult;
use crate::{csv_files, html, junit, markdown};

/// The file-name prefix of the CSV files (Locust's `--csv` prefix).
pub const CSV_PREFIX: &str = "skein";

fn write_text(path: PathBuf, text: &str) -> Result<PathBuf, ReportError> {
    std::fs::write(&path, text).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Writes results.json, the CSV files, report.html, summary.md and junit.xml into `dir`
/// (created if needed) and returns the paths written. results.json goes first: if anything
/// later fails, the measurements are already safe on disk. `skein_stats_corrected.csv` is
/// written only when the run recorded intended-time latencies, `skein_stream_stats.csv` only
/// when some request streamed or counted the items it carried.
pub fn write_all(result: &RunResult, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let json = dir.join("results.json");
    result.write_to(&json)?;
    let p = |name: &str| dir.join(format!("{CSV_PREFIX}_{name}.csv"));
    let corrected = csv_files::write_stats_corrected(result, &p("stats_corrected"))?;
    let stream = csv_files::stream::write_stream_stats(result, &p("stream_stats"))?;
    let llm = csv_files::llm::write_llm_stats(result, &p("llm_stats"))?;
    Ok(vec![
        json,
        csv_files::write_stats(result, &p("stats"))?,
        csv_files::write_history(result, &p("stats_history"))?,
        csv_files::write_failures(result, &p("failures"))?,
        csv_files::write_capacity(result, &p("capacity"))?,
        write_text(dir.join("report.html"), &html::render(result)?)?,
        write_text(dir.join("summary.md"), &markdown::render(result))?,
        write_text(dir.join("junit.xml"), &junit::render(result))?,
    ]
    .into_iter()
    .chain(corrected)
    .chain(llm)
    .chain(stream)
    .collect())
}
