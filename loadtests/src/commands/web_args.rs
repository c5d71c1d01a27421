//! The dashboard flags of `skein run`, `skein manager` and `skein capacity` (see
//! docs/web-dashboard.md).
use std::net::SocketAddr;
use std::time::Duration;

use crate::exit::Failure;
use crate::live_outputs::web::{WebConfig, WebServer};
use crate::scenario::parse_duration;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct WebArgs {
    /// Serve a live dashboard at http://ADDR/ during the run, e.g. 127.0.0.1:8089 (port 0
    /// picks a free port; the address is printed). A non-loopback address needs --web-token.
    #[arg(long, value_name = "ADDR")]
    pub web: Option<SocketAddr>,
    /// The token every dashboard request must carry (Authorization: Bearer TOKEN, or
    /// ?token=TOKEN in the page's address).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SKEIN_WEB_TOKEN",
        hide_env_values = true
    )]
    pub web_token: Option<String>,
    /// How long the dashboard stays up after the run ended, showing the verdict and the
    /// results (default: until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "web")]
    pub web_linger: Option<Duration>,
}

impl WebArgs {
    pub fn config(&self) -> Option<WebConfig> {
        self.web.map(|addr| WebConfig {
            addr,
            token: self.web_token.clone(),
            linger: self.web_linger,
        })
    }
}

/// Starts the dashboard `args` ask for, before any load (a taken port or a non-loopback
/// address without a token is a usage error, exit 2), and prints where it is.
pub fn start_dashboard(args: &WebArgs, command: &str) -> Result<Option<WebServer>, Failure> {
    let Some(config) = args.config() else {
        return Ok(None);
    };
    let web = WebServer::start(&config).map_err(|e| Failure::Usage(e.to_string()))?;
    eprintln!("skein {command}: live dashboard at {}", web.url());
    Ok(Some(web))
}
