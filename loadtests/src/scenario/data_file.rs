//! `data = "users.csv"` on a declared class: reading and checking its data file.
//!
//! A data file is CSV with a header row naming the columns (plain words, so templates read
//! them as `{{column}}`), then one row per user. It is read once, at load, relative to the
//! scenario file, and every problem (missing, unreadable, too large, empty, a bad header, a
//! ragged row) stops the run with the place of the `data` key and a fix. A worker never reads
//! its own disk: the manager sends the files it read with the scenario text
//! ([`DataSource::Shipped`]), and their contents are part of the scenario hash. LLM datasets
//! (`scenario::llm_dataset`) travel the same way, within [`MAX_SHIPPED_FILE_BYTES`].
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use crate::users::data_table::{DataTable, Row};

/// Largest data file read: it is held in memory and sent to every worker when it registers.
pub const MAX_DATA_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Largest file a manager sends to its workers (a data file or an LLM dataset): it goes in
/// the reply to each worker's registration, which must arrive within the worker's 2 s
/// request timeout, and is held by every worker. Well below the 256 MiB a local run reads.
pub const MAX_SHIPPED_FILE_BYTES: usize = 16 * 1024 * 1024;

/// Refuses, naming the first file too large to send to workers, its size and the limit.
pub fn check_shippable(files: &[DataFile]) -> Result<(), String> {
    match files.iter().find(|f| f.text.len() > MAX_SHIPPED_FILE_BYTES) {
        None => Ok(()),
        Some(f) => Err(format!(
            "`{}` is {:.1} MiB: a manager sends at most {} MiB per file to its workers; keep the rows the run sends (a few thousand are usually enough), or run each generator on its own with `skein run`",
            f.path,
            f.text.len() as f64 / (1024.0 * 1024.0),
            MAX_SHIPPED_FILE_BYTES / (1024 * 1024)
        )),
    }
}

/// Most rows a data file may have: far more users than one run starts.
pub const MAX_DATA_ROWS: usize = 100_000;

/// A data file as a scenario read it: the path as written in the scenario, and its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    pub path: String,
    pub text: String,
}

/// Where a scenario's data files come from.
#[derive(Clone, Copy, Debug)]
pub enum DataSource<'a> {
    /// From disk, relative to the scenario file's directory (a run, a manager, a worker given
    /// `--scenario`).
    BesideScenario,
    /// Sent by the manager with the scenario text (a worker of a distributed run): data files
    /// and LLM datasets.
    Shipped(&'a [DataFile]),
}

/// Reads and checks the data file named at `path` (a `data` value of the scenario `at`).
pub fn load(
    path: &Spanned<String>,
    source: DataSource<'_>,
    at: &Locator<'_>,
) -> Result<(DataTable, DataFile), ScenarioError> {
    let written = path.get_ref();
    let fail = |message: String, hint: String| at.at(path.span(), message, hint);
    if written.trim().is_empty() {
        return Err(fail(
            "`data` names no file".into(),
            "give a CSV file relative to the scenario file, e.g. `data = \"users.csv\"`".into(),
        ));
    }
    let text = match source {
        DataSource::BesideScenario => read(written, at.file).map_err(|(message, hint)| fail(message, hint))?,
        DataSource::Shipped(files) => files
            .iter()
            .find(|f| f.path == *written)
            .map(|f| f.text.clone())
            .ok_or_else(|| {
                fail(
                    format!("data file `{written}` did not come with the scenario from the manager"),
                    "run the manager and the workers with the same skein version: the manager sends the data files it read".into(),
                )
            })?,
    };
    if text.len() > MAX_DATA_FILE_BYTES {
        return Err(fail(
            too_large(written, text.len() as u64),
            too_large_hint(),
        ));
    }
    let table = parse(written, &text).map_err(|(message, hint)| fail(message, hint))?;
    let file = DataFile {
        path: written.clone(),
        text,
    };
    Ok((table, file))
}

fn too_large(written: &str, bytes: u64) -> String {
    format!(
        "data file `{written}` is {:.1} MiB: at most {} MiB are read",
        bytes as f64 / (1024.0 * 1024.0),
        MAX_DATA_FILE_BYTES / (1024 * 1024)
    )
}

fn too_large_hint() -> String {
    "keep one short row per user (a run rarely needs more rows than users), or split the workload into classes with a file each".into()
}

/// The file's text, read from disk relative to `scenario_file`; `Err((message, hint))`.
fn read(written: &str, scenario_file: &str) -> Result<String, (String, String)> {
    let resolved = resolve(written, scenario_file);
    let shown = resolved.display();
    let hint = || {
        format!(
            "give the path relative to the scenario file (here `{shown}`), e.g. `data = \"users.csv\"` for a file beside it"
        )
    };
    let size = std::fs::metadata(&resolved)
        .map_err(|e| {
            (
                format!("cannot read data file `{written}` ({shown}): {e}"),
                hint(),
            )
        })?
        .len();
    if size > MAX_DATA_FILE_BYTES as u64 {
        return Err((too_large(written, size), too_large_hint()));
    }
    let bytes = std::fs::read(&resolved).map_err(|e| {
        (
            format!("cannot read data file `{written}` ({shown}): {e}"),
            hint(),
        )
    })?;
    String::from_utf8(bytes).map_err(|e| {
        (
            format!("data file `{written}` is not UTF-8 text ({e})"),
            "save it as UTF-8 CSV".into(),
        )
    })
}

/// `written` relative to the directory of `scenario_file` (absolute paths as they are).
fn resolve(written: &str, scenario_file: &str) -> PathBuf {
    let path = Path::new(written);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    Path::new(scenario_file)
        .parent()
        .map_or_else(|| path.to_path_buf(), |dir| dir.join(path))
}

/// The table in CSV `text`; `Err((message, hint))` names the line when a row is at fault.
fn parse(written: &str, text: &str) -> Result<DataTable, (String, String)> {
    let ragged = |e: csv::Error| {
        let line = e
            .position()
            .map_or(String::new(), |p| format!(", line {}", p.line()));
        (
            format!("data file `{written}`{line}: {e}"),
            "every row needs as many values as the header has columns; quote a value that holds a comma: \"a, b\"".to_string(),
        )
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(ragged)?.clone();
    if header.iter().all(str::is_empty) {
        return Err((
            format!("data file `{written}` is empty"),
            "write a header row naming the columns, then one row per user, e.g. `user,tenant` then `ada,t1`".into(),
        ));
    }
    let mut columns: Vec<String> = Vec::new();
    for name in &header {
        if !crate::users::template::is_identifier(name) {
            return Err((
                format!("column `{name}` in the header of data file `{written}` is not a plain word"),
                "name columns with letters, digits and `_` (templates read them as `{{column}}`), e.g. `user_id`".into(),
            ));
        }
        if columns.iter().any(|c| c == name) {
            return Err((
                format!("column `{name}` is named twice in the header of data file `{written}`"),
                "give each column its own name".into(),
            ));
        }
        columns.push(name.to_string());
    }
    let mut rows: Vec<Row> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(ragged)?;
        if rows.len() == MAX_DATA_ROWS {
            return Err((
                format!("data file `{written}` has more than {MAX_DATA_ROWS} rows"),
                "a run rarely needs more rows than users: keep the first ones".into(),
            ));
        }
        rows.push(record.iter().map(Box::from).collect());
    }
    if rows.is_empty() {
        return Err((
            format!("data file `{written}` has a header but no rows"),
            "add one row per user below the header".into(),
        ));
    }
    Ok(DataTable::new(
        written.to_string(),
        columns,
        rows,
        super::fnv1a_hex(text),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<DataTable, String> {
        parse("d.csv", text).map_err(|(message, hint)| {
            assert!(!hint.is_empty());
            message
        })
    }

    #[test]
    fn a_header_and_rows_become_columns_and_rows() {
        let t = table(" user , tenant\nada,t1\n\"lovelace, a\",t2\n").unwrap();
        assert_eq!(t.columns, ["user", "tenant"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(&*t.rows[1][0], "lovelace, a");
        assert_eq!(
            t.content_hash,
            table(" user , tenant\nada,t1\n\"lovelace, a\",t2\n")
                .unwrap()
                .content_hash
        );
        assert_ne!(
            t.content_hash,
            table("user,tenant\nada,t1\n").unwrap().content_hash
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong_and_where() {
        let cases = [
            ("", "is empty"),
            ("user,tenant\n", "header but no rows"),
            ("user,tenant\nada\n", "line 2"),
            ("first name\nada\n", "column `first name`"),
            ("a,a\n1,2\n", "named twice"),
        ];
        for (text, expected) in cases {
            let e = table(text).err().unwrap_or_default();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn paths_are_relative_to_the_scenario_file() {
        assert_eq!(resolve("u.csv", "/a/b/s.toml"), Path::new("/a/b/u.csv"));
        assert_eq!(resolve("/x/u.csv", "/a/b/s.toml"), Path::new("/x/u.csv"));
        assert_eq!(resolve("u.csv", "s.toml"), Path::new("u.csv"));
    }
}
