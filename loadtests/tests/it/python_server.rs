//! A server built with an official Python SDK (tests/fixtures/*.py), run as a child process
//! on 127.0.0.1:0, killed when dropped.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PythonServer {
    child: Child,
    pub address: String,
}

impl PythonServer {
    /// Starts `tests/fixtures/<script>` with `flags` and waits until `ready_path` answers.
    pub fn start(script: &str, flags: &[&str], ready_path: &str) -> PythonServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(script);
        let mut child = Command::new("python3")
            .arg(&script)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (the SDK tests need it: pip install -r .ci/requirements.txt)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("PORT ").unwrap_or_else(|| {
            let _ = child.kill();
            panic!(
                "{} did not start (are the SDKs installed? pip install -r .ci/requirements.txt): {line:?}",
                script.display()
            )
        });
        let address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while get(&address, ready_path).is_none() {
            assert!(
                Instant::now() < deadline,
                "{} never answered",
                script.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        PythonServer { child, address }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The body of `GET path`.
    pub fn get(&self, path: &str) -> Option<String> {
        get(&self.address, path)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.0 GET's body.
fn get(address: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}
