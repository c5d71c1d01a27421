//! The target of a run: the given host (checked for reachability), or the reference server
//! started in this process when no host is given (the embedded default).
use std::net::ToSocketAddrs;
use std::time::Duration;

use crate::exit::Failure;
use crate::scenario;

/// How long the unreachable-host check waits for a TCP connection.
const CONNECT_CHECK: Duration = Duration::from_secs(3);

pub struct Target {
    pub host: String,
    pub token: String,
    embedded: Option<target_server::RunningServer>,
}

impl Target {
    /// `host` if given (it must accept TCP connections: exit 3 otherwise), else an embedded
    /// reference server. The token: the command line's, the scenario's, or the reference
    /// server's default.
    pub async fn resolve(
        host: Option<&str>,
        cli_token: Option<String>,
        scenario_token: Option<&str>,
    ) -> Result<Target, Failure> {
        let embedded = match host {
            Some(_) => None,
            None => Some(
                target_server::spawn(target_server::ServerConfig::in_memory_on_loopback())
                    .await
                    .map_err(|e| {
                        Failure::Aborted(format!("cannot start the embedded reference server: {e}"))
                    })?,
            ),
        };
        let host = match (host, &embedded) {
            (Some(h), _) => h.to_string(),
            (None, Some(server)) => server.base_url(),
            (None, None) => unreachable!("embedded server is started when no host is given"),
        };
        let token = cli_token
            .or_else(|| scenario_token.map(str::to_string))
            .unwrap_or_else(|| target_server::DEFAULT_TOKEN.to_string());
        check_reachable(&host).await?;
        if embedded.is_some() {
            eprintln!(
                "skein: no --host given: running against the embedded reference server at {host}"
            );
        }
        Ok(Target {
            host,
            token,
            embedded,
        })
    }

    pub async fn shutdown(self) {
        if let Some(server) = self.embedded {
            let _ = server.shutdown().await;
        }
    }
}

/// Fails fast (exit 3) when nothing accepts TCP connections at the host's address.
pub async fn check_reachable(host: &str) -> Result<(), Failure> {
    let url = scenario::target_url(host).map_err(Failure::Usage)?;
    let port = url.port_or_known_default().unwrap_or(80);
    let name = url
        .host_str()
        .ok_or_else(|| Failure::Usage(format!("--host `{host}` has no host name")))?
        .to_string();
    let addrs: Vec<std::net::SocketAddr> = tokio::task::spawn_blocking(move || {
        (name.as_str(), port).to_socket_addrs().map(|a| a.collect())
    })
    .await
    .map_err(|e| Failure::Aborted(e.to_string()))?
    .map_err(|e| {
        Failure::Aborted(format!(
            "target {host} unreachable: cannot resolve its name: {e}"
        ))
    })?;
    let mut last = String::from("no address");
    for addr in addrs {
        match tokio::time::timeout(CONNECT_CHECK, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer within {}s", CONNECT_CHECK.as_secs()),
        }
    }
    Err(Failure::Aborted(format!(
        "target {host} unreachable: {last}; is the server running and the address right?"
    )))
}
