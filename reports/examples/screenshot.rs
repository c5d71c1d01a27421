//! Renders an HTML report to PNG with headless Chromium, as the docs' pictures are made:
//! `cargo run -p reports --example screenshot -- report.html docs/report.png 1100 1500`.
use std::path::Path;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [html, png, width, height] = &args[..] else {
        return Err("usage: screenshot HTML PNG WIDTH HEIGHT".into());
    };
    reports::screenshot::screenshot(
        Path::new(html),
        Path::new(png),
        (width.parse()?, height.parse()?),
        Duration::from_secs(60),
    )?;
    Ok(())
}
