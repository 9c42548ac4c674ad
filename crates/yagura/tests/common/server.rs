//! A `yagura serve` child process on ports it picks, for end-to-end tests.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_yagura");

pub fn need(tool: &str) -> PathBuf {
    if let Some(p) = which(tool) {
        return p;
    }
    panic!("{tool} is not installed: run scripts/setup-debian.sh");
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debian/syslog-ng/run");
    if tool == "syslog-ng" {
        return local.exists().then_some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|d| d.join(tool))
            .find(|p| p.exists())
    })
}

pub struct Server {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub addrs: BTreeMap<String, SocketAddr>,
}

pub fn certs(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let st = Command::new(need("openssl"))
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl could not make a test certificate");
    (cert, key)
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra)
    }

    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let (cert, key) = if dir.path().join("cert.pem").exists() {
            (dir.path().join("cert.pem"), dir.path().join("key.pem"))
        } else {
            certs(dir.path())
        };
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--http", "127.0.0.1:0", "--syslog-udp", "127.0.0.1:0"])
            .args(["--syslog-tcp", "127.0.0.1:0", "--syslog-tls", "127.0.0.1:0"])
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .args(extra)
            .env("YAGURA_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut addrs = BTreeMap::new();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["listening", name, addr] => {
                    addrs.insert(name.to_string(), addr.parse().unwrap());
                }
                ["ready", ..] => break,
                _ => {}
            }
        }
        std::thread::spawn(move || for _ in lines {});
        assert!(addrs.contains_key("http"), "serve did not start: {addrs:?}");
        Server { child, dir, addrs }
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.addrs[name]
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn stored(&self) -> Vec<Value> {
        let out = Command::new(BIN)
            .arg("dump")
            .arg("--data-dir")
            .arg(self.data())
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until at least `n` events whose `message` (or `event.original`) contains `tag`
    /// are stored; returns them.
    pub fn wait_for(&self, tag: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let evs: Vec<Value> = self
                .stored()
                .into_iter()
                .filter(|e| text_of(e).contains(tag))
                .collect();
            if evs.len() >= n || start.elapsed() > timeout {
                return evs;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let st = self.child.wait().unwrap();
        assert!(st.success(), "serve exited with {st}");
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// Kills the server with SIGKILL (no shutdown at all) and gives its folder back.
    pub fn kill9(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// The value of one Prometheus gauge or counter at `/metrics` (0 when absent).
    pub fn metric(&self, name: &str) -> f64 {
        self.metrics().get(name).copied().unwrap_or(0.0)
    }

    /// Every unlabelled metric, from one read of `/metrics`.
    pub fn metrics(&self) -> std::collections::HashMap<String, f64> {
        let url = format!("http://{}/metrics", self.addr("http"));
        let body = ureq::get(&url)
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_owned(), v.trim().parse().ok()?))
            })
            .collect()
    }

    /// Waits until streaming detection has evaluated `events` events, nothing waits for the
    /// watermark and every alert and the checkpoint are written (one read of the metrics, so
    /// the conditions hold together); false on timeout.
    pub fn wait_detected(&self, events: u64, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let m = self.metrics();
            let get = |k: &str| m.get(k).copied().unwrap_or(0.0);
            let done = get("yagura_detect_events_total") as u64 >= events
                && get("yagura_detect_waiting") == 0.0
                && get("yagura_detect_position") as u64 >= get("yagura_store_last_seq") as u64;
            if done {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text a test looks for in a stored event: its original record, else its message.
pub fn text_of(e: &Value) -> String {
    e.get("event.original")
        .or_else(|| e.get("message"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// `yagura alerts list --format jsonl --data-dir DATA` (through the server's API while it runs).
pub fn alerts_list(data: &Path) -> Vec<Value> {
    jsonl_of(&["alerts", "list", "--format", "jsonl"], data)
}

/// `yagura ARGS… --data-dir DATA`, which must succeed, its standard output read as JSON lines.
pub fn jsonl_of(args: &[&str], data: &Path) -> Vec<Value> {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "yagura {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A BSD-syslog line (`Dec 10 06:55:46 LabSZ sshd[24200]: text`) as an RFC 5424 record of
/// `year`, as a forwarder sends it: the text unchanged, the time with its year (a year-less
/// line would be placed by today's date, and a test would depend on it). `None` when the line
/// is not in that form.
pub fn to_rfc5424(line: &str, year: u32) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| line.starts_with(m))? + 1;
    let mut rest = line.get(3..)?.split_whitespace();
    let day: u32 = rest.next()?.parse().ok()?;
    let time = rest.next()?;
    let host = rest.next()?;
    let tag = rest.next()?.strip_suffix(':')?;
    let (app, pid) = match tag.split_once('[') {
        Some((a, p)) => (a, p.trim_end_matches(']')),
        None => (tag, "-"),
    };
    let text_at = line.find(&format!("{tag}: "))? + tag.len() + 2;
    Some(format!(
        "<38>1 {year}-{month:02}-{day:02}T{time}Z {host} {app} {pid} - - {}",
        &line[text_at..]
    ))
}
