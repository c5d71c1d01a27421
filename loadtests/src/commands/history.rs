//! `skein history`: every results.json under some directories as one trend page and CSV,
//! each run judged against its scenario's run before by the `compare` gate
//! ([`reports::history`]).
//!
//! Bad input: a directory that does not exist or holds no results.json is a usage error
//! (exit 2), since the trend would silently miss it. An unreadable or malformed results.json
//! is skipped with a warning naming it (also listed on the page), because one corrupted file
//! among weeks of CI runs should not hide the rest; `--strict` makes it exit 2 instead. An
//! `--out` that cannot be written is exit 2.
use std::path::{Path, PathBuf};

use reports::history::History;

use crate::commands::tolerance_args::ToleranceArgs;
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Directories searched recursively for results.json (a results.json file is taken as is).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The page to write, e.g. history.html; the CSV is written beside it with the same stem
    /// and `.csv` (history.csv).
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
    /// Fail (exit 2) on an unreadable or malformed results.json instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub gate: ToleranceArgs,
}

/// The CSV written beside `out`: the same stem, `.csv`.
pub fn csv_path(out: &Path) -> PathBuf {
    out.with_extension("csv")
}

/// Every results.json under `dir`, in path order. Symlinked directories are not followed (a
/// link back up would loop); an unreadable directory is a skipped entry with why.
fn find_results(
    dir: &Path,
    found: &mut Vec<PathBuf>,
    skipped: &mut Skipped,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if let Err(e) = find_results(&path, found, skipped) {
                let why = format!("{}: cannot read the directory: {e}", path.display());
                skipped.push((path, why));
            }
        } else if entry.file_name() == "results.json" {
            found.push(path);
        }
    }
    Ok(())
}

/// Files or directories left out, each with a message naming it.
type Skipped = Vec<(PathBuf, String)>;

fn collect(dirs: &[PathBuf]) -> Result<(Vec<PathBuf>, Skipped), Failure> {
    let (mut files, mut skipped) = (Vec::new(), Vec::new());
    for dir in dirs {
        let before = files.len();
        if dir.is_file() {
            files.push(dir.clone());
            continue;
        }
        if !dir.is_dir() {
            return Err(Failure::Usage(format!(
                "{}: no such directory: give directories holding run results (e.g. reports/out)",
                dir.display()
            )));
        }
        find_results(dir, &mut files, &mut skipped).map_err(|e| {
            Failure::Usage(format!("{}: cannot read the directory: {e}", dir.display()))
        })?;
        if files.len() == before {
            return Err(Failure::Usage(format!(
                "{}: no results.json under it: give directories that `skein run --out` wrote into",
                dir.display()
            )));
        }
    }
    Ok((files, skipped))
}

pub fn execute(args: HistoryArgs) -> anyhow::Result<Outcome> {
    let tolerances = args.gate.tolerances();
    let csv = csv_path(&args.out);
    if csv == args.out {
        return Err(Failure::Usage(format!(
            "--out {}: give the page's name, e.g. history.html (the CSV goes beside it as history.csv)",
            args.out.display()
        ))
        .into());
    }
    let (files, mut skipped) = collect(&args.dirs)?;
    let mut runs = Vec::new();
    for file in files {
        match reports::RunResult::read_from(&file) {
            Ok(result) => runs.push((file, result)),
            Err(e) if args.strict => {
                return Err(Failure::Usage(format!("{e} (without --strict it is skipped)")).into())
            }
            Err(e) => skipped.push((file, e.to_string())),
        }
    }
    for (_, why) in &skipped {
        eprintln!("warning: skipped {why}");
    }
    if runs.is_empty() {
        return Err(Failure::Usage(format!(
            "no readable results.json under {}",
            args.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    let history = History::build(runs, &tolerances, skipped);
    let page = reports::html::history::render(&history)
        .map_err(|e| Failure::Aborted(format!("cannot render the history page: {e}")))?;
    std::fs::write(&args.out, page).map_err(|e| {
        Failure::Usage(format!(
            "--out {}: cannot write it: {e} (give a path in a writable directory)",
            args.out.display()
        ))
    })?;
    reports::csv_files::history::write_history(&history, &csv)
        .map_err(|e| Failure::Usage(format!("--out: {e} (give a path in a writable directory)")))?;
    println!(
        "{} runs of {} scenarios, {} regressed against the run before ({} skipped)",
        history.run_count(),
        history.scenarios.len(),
        history.regression_count(),
        history.skipped.len()
    );
    println!("wrote {}\nwrote {}", args.out.display(), csv.display());
    Ok(Outcome::Passed)
}
