//! The target of a run: the given host (checked for reachability), or, when no host is given,
//! the reference server started as a child process of this executable (the hidden
//! `skein reference-server`, see [`super::reference_server`]). A child rather than a task
//! in this process, so that the results' generator CPU and RSS are the generator's alone;
//! the child's are read from /proc just before it is stopped and reported apart.
use std::net::ToSocketAddrs;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::exit::Failure;
use crate::{resources, scenario};

/// How long the unreachable-host check waits for a TCP connection.
const CONNECT_CHECK: Duration = Duration::from_secs(3);

/// How long the embedded server may take to print its URL, and to stop once asked.
const CHILD_START: Duration = Duration::from_secs(20);
const CHILD_STOP: Duration = Duration::from_secs(5);

pub struct Target {
    pub host: String,
    pub token: String,
    embedded: Option<EmbeddedServer>,
}

/// The reference server running as a child process. Dropped without [`Target::shutdown`]
/// (an error path), the child is killed (`kill_on_drop`).
struct EmbeddedServer {
    child: Child,
    /// Closing it asks the child to stop gracefully.
    stdin: Option<ChildStdin>,
    pid: u32,
}

impl EmbeddedServer {
    /// Starts `skein reference-server` from this executable and reads its URL.
    async fn start() -> Result<(EmbeddedServer, String), Failure> {
        let failed = |e: String| {
            Failure::Aborted(format!("cannot start the embedded reference server: {e}"))
        };
        let exe = std::env::current_exe().map_err(|e| failed(e.to_string()))?;
        let mut child = Command::new(exe)
            .args(["reference-server", "--bind", "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            // Its own process group: a Ctrl-C at the terminal reaches the generator, which
            // stops its users and then this server, not the server first under running users.
            .process_group(0)
            .spawn()
            .map_err(|e| failed(e.to_string()))?;
        let pid = child
            .id()
            .ok_or_else(|| failed("it exited at once".into()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        match tokio::time::timeout(CHILD_START, stdout.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(Ok(_)) => return Err(failed("it exited without printing its URL".into())),
            Ok(Err(e)) => return Err(failed(e.to_string())),
            Err(_) => return Err(failed(format!("no URL within {} s", CHILD_START.as_secs()))),
        }
        let stdin = child.stdin.take();
        Ok((
            EmbeddedServer { child, stdin, pid },
            line.trim().to_string(),
        ))
    }

    /// Reads what the child used, then stops it: stdin closed (graceful), killed if it has not
    /// exited within [`CHILD_STOP`]. Either way it is waited for, so no process is left.
    async fn stop(mut self) -> reports::GeneratorResources {
        let used = resources::of_process(self.pid);
        drop(self.stdin.take());
        if tokio::time::timeout(CHILD_STOP, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        used
    }
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
        let (host, embedded) = match host {
            Some(h) => (h.to_string(), None),
            None => {
                let (server, url) = EmbeddedServer::start().await?;
                (url, Some(server))
            }
        };
        let token = cli_token
            .or_else(|| scenario_token.map(str::to_string))
            .unwrap_or_else(|| target_server::DEFAULT_TOKEN.to_string());
        if reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(Failure::Usage(
                "the target token has characters an HTTP header cannot carry (a newline?); check --target-token, SKEIN_TARGET_TOKEN or the scenario's `token`".into(),
            ));
        }
        check_reachable(&host).await?;
        if let Some(server) = &embedded {
            eprintln!(
                "skein: no --host given: running against the embedded reference server at {host} (pid {})",
                server.pid
            );
        }
        Ok(Target {
            host,
            token,
            embedded,
        })
    }

    /// The embedded reference server's process id (`None` for a `--host`).
    pub fn embedded_pid(&self) -> Option<u32> {
        self.embedded.as_ref().map(|e| e.pid)
    }

    /// Stops the embedded server, if any, and returns what it used over the run (`None` for
    /// a remote target, whose resources Skein does not see).
    pub async fn shutdown(self) -> Option<reports::GeneratorResources> {
        match self.embedded {
            Some(server) => Some(server.stop().await),
            None => None,
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
