//! Rendering `report.html` to a PNG with headless Chromium: for the docs' screenshots and for
//! the tests that check the report really renders in a browser.
//!
//! Chromium runs with networking features off and a fresh profile, and is killed when it
//! outlives the timeout, so a hung browser cannot hang CI.
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::ScreenshotError;

/// Names Chromium is installed under (Debian's `chromium` first).
const CANDIDATES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// The first Chromium on `PATH` that answers `--version`.
pub fn find_chromium() -> Result<&'static str, ScreenshotError> {
    CANDIDATES
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .ok_or(ScreenshotError::NoChromium)
}

/// Screenshots `html` (a local file) into `png` at `width`×`height` CSS pixels.
pub fn screenshot(
    html: &Path,
    png: &Path,
    (width, height): (u32, u32),
    timeout: Duration,
) -> Result<(), ScreenshotError> {
    let chromium = find_chromium()?;
    let html = html.canonicalize().map_err(|source| ScreenshotError::Io {
        path: html.to_path_buf(),
        source,
    })?;
    // A fresh profile per run: no state from (or lock held by) another Chromium.
    let profile = tempfile::tempdir().map_err(|source| ScreenshotError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    run_chromium(
        chromium,
        &html,
        png,
        profile.path(),
        (width, height),
        timeout,
    )
}

fn run_chromium(
    chromium: &str,
    html: &Path,
    png: &Path,
    profile: &Path,
    (width, height): (u32, u32),
    timeout: Duration,
) -> Result<(), ScreenshotError> {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so a timeout kills Chromium's helper processes too.
        .process_group(0)
        .spawn()
        .map_err(|source| ScreenshotError::Io {
            path: chromium.into(),
            source,
        })?;
    let started = Instant::now();
    loop {
        let status = child.try_wait().map_err(|source| ScreenshotError::Io {
            path: chromium.into(),
            source,
        })?;
        if let Some(status) = status {
            return if status.success() {
                Ok(())
            } else {
                Err(ScreenshotError::Failed(status.to_string()))
            };
        }
        if started.elapsed() > timeout {
            // `kill` takes the negative group id; the standard library has no group kill and
            // this crate forbids the unsafe libc call.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            return Err(ScreenshotError::TimedOut(timeout));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
