//! `--jsonl FILE`: one JSON line per finished second ([`reports::live::SecondLine`]),
//! flushed as it is written so `tail -f FILE | jq` follows the run.
//!
//! Each second is written once, in order, one tick after it was first rolled: a request
//! timed just before a second ended can still be rolled into it a moment later, and the
//! extra tick lets it land first, so the lines add up to the run's totals.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reports::live::{SecondLine, Totals};

use super::{LiveError, Slot};

/// Seconds of the series read per tick; the writer is never further behind than this.
const TAIL: usize = 30;

struct Writer {
    file: BufWriter<File>,
    /// The newest second written.
    last: Option<i64>,
    totals: Totals,
}

/// The JSON-lines file of one run.
pub struct JsonlOutput {
    path: PathBuf,
    slot: Slot,
    writer: Arc<Mutex<Writer>>,
    ticker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl JsonlOutput {
    pub fn create(path: &Path, slot: Slot) -> Result<JsonlOutput, LiveError> {
        let file = File::create(path).map_err(|source| LiveError::Jsonl {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(JsonlOutput {
            path: path.to_path_buf(),
            slot,
            writer: Arc::new(Mutex::new(Writer {
                file: BufWriter::new(file),
                last: None,
                totals: Totals::default(),
            })),
            ticker: Mutex::new(None),
        })
    }

    /// Writes the finished seconds not yet written; all of them when `all` (the run
    /// ended), else all but the newest.
    fn write_new(slot: &Slot, writer: &Mutex<Writer>, all: bool) -> std::io::Result<()> {
        let Some(source) = slot.lock().expect("live slot poisoned").clone() else {
            return Ok(());
        };
        let (snapshot, series) = source.snapshot((!all).then_some(TAIL));
        let keep = if all {
            series.len()
        } else {
            series.len().saturating_sub(1)
        };
        let mut w = writer.lock().expect("jsonl writer poisoned");
        for second in &series[..keep] {
            if w.last.is_some_and(|last| second.unix_second <= last) {
                continue;
            }
            let line = SecondLine::new(second, &mut w.totals, &snapshot);
            writeln!(w.file, "{}", line.to_json())?;
            w.last = Some(second.unix_second);
        }
        w.file.flush()
    }

    /// Starts writing every second on the current runtime.
    pub fn spawn_ticker(&self) {
        let (slot, writer) = (self.slot.clone(), self.writer.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = Self::write_new(&slot, &writer, false) {
                    eprintln!("skein: --jsonl stopped: {e}");
                    return;
                }
            }
        });
        if let Some(old) = self.ticker.lock().expect("ticker poisoned").replace(task) {
            old.abort();
        }
    }

    /// Stops the ticker and writes every remaining second.
    pub fn finish(&self) -> Result<(), LiveError> {
        if let Some(task) = self.ticker.lock().expect("ticker poisoned").take() {
            task.abort();
        }
        Self::write_new(&self.slot, &self.writer, true).map_err(|source| LiveError::Jsonl {
            path: self.path.clone(),
            source,
        })
    }
}
