//! Syslog: one RFC 5424 message per notice, over UDP (RFC 5426, one datagram) or TCP
//! (RFC 6587 octet counting: `LEN SP MSG`, one connection per attempt).
//!
//! `<PRI>1 TIMESTAMP HOSTNAME yagura PROCID alert [yagura@32473 notice_id=… alert_id=…
//! rule_id=… severity=…] MSG`, MSG being the notice as JSON or a CEF line. 32473 is the
//! example enterprise number of RFC 5612. MSG carries no BOM (it is RFC 5424's MSG-ANY), so
//! that receivers can parse the JSON as it comes.

use super::render::{now_ms, one_line, rfc3339_ms};
use super::{Failure, Message, Notice};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// The largest UDP message sent whole.
const UDP_MAX: usize = 8192;

/// UDP or TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// What MSG holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SyslogFormat {
    Json,
    Cef,
}

/// A checked syslog channel.
pub(crate) struct SyslogChannel {
    transport: Transport,
    target: String,
    format: SyslogFormat,
    facility: u8,
    hostname: String,
    timeout: Duration,
}

impl SyslogChannel {
    pub(crate) fn new(
        transport: Transport,
        target: &str,
        format: SyslogFormat,
        facility: u8,
        hostname: Option<&str>,
        timeout: Duration,
    ) -> Self {
        let hostname = hostname.map(str::to_string).unwrap_or_else(local_hostname);
        Self {
            transport,
            target: target.to_string(),
            format,
            facility,
            hostname: header_field(&hostname, 255),
            timeout,
        }
    }

    /// One attempt.
    pub(crate) fn deliver(&self, msg: &Message) -> Result<(), Failure> {
        let line = self.render(msg)?;
        let addrs: Vec<SocketAddr> = self
            .target
            .to_socket_addrs()
            .map_err(|e| Failure::transient(format!("cannot resolve {}: {e}", self.target)))?
            .collect();
        let mut last = format!("cannot resolve {}: no address", self.target);
        for addr in addrs {
            let sent = match self.transport {
                Transport::Udp => send_udp(addr, line.as_bytes()),
                Transport::Tcp => self.send_tcp(addr, line.as_bytes()),
            };
            match sent {
                Ok(()) => return Ok(()),
                Err(e) => last = format!("{:?} {addr}: {e}", self.transport),
            }
        }
        Err(Failure::transient(last))
    }

    fn send_tcp(&self, addr: SocketAddr, line: &[u8]) -> std::io::Result<()> {
        let mut stream = TcpStream::connect_timeout(&addr, self.timeout)?;
        stream.set_write_timeout(Some(self.timeout))?;
        let mut frame = format!("{} ", line.len()).into_bytes();
        frame.extend_from_slice(line);
        stream.write_all(&frame)?;
        stream.flush()?;
        stream.shutdown(std::net::Shutdown::Write)
    }

    /// The RFC 5424 message. Over UDP, a message beyond 8 KiB (what receivers such as
    /// rsyslog accept by default) is rendered again with the description cut to 1,000
    /// characters and each list to 20 items, so that it arrives whole.
    pub(crate) fn render(&self, msg: &Message) -> Result<String, Failure> {
        let line = self.render_notice(msg, &msg.notice)?;
        if self.transport == Transport::Tcp || line.len() <= UDP_MAX {
            return Ok(line);
        }
        let mut short = msg.notice.clone();
        short.description = super::render::truncate(&short.description, 1000);
        for list in [
            &mut short.users,
            &mut short.hosts,
            &mut short.ips,
            &mut short.techniques,
        ] {
            list.truncate(20);
        }
        self.render_notice(msg, &short)
    }

    fn render_notice(&self, msg: &Message, n: &Notice) -> Result<String, Failure> {
        let pri = u32::from(self.facility) * 8 + u32::from(syslog_severity(&n.severity));
        let body = match self.format {
            SyslogFormat::Json => serde_json::to_string(n)
                .map_err(|e| Failure::permanent(format!("cannot encode the notice: {e}")))?,
            SyslogFormat::Cef => cef(n, &msg.id),
        };
        Ok(format!(
            "<{pri}>1 {} {} yagura {} alert [yagura@32473 notice_id=\"{}\" alert_id=\"{}\" rule_id=\"{}\" severity=\"{}\"] {body}",
            rfc3339_ms(now_ms()),
            self.hostname,
            std::process::id(),
            sd_escape(&msg.id),
            n.alert_id,
            sd_escape(&n.rule_id),
            sd_escape(&n.severity),
        ))
    }
}

fn send_udp(addr: SocketAddr, line: &[u8]) -> std::io::Result<()> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(addr)?;
    let sent = socket.send(line)?;
    if sent != line.len() {
        return Err(std::io::Error::other(format!(
            "sent {sent} of {} bytes",
            line.len()
        )));
    }
    Ok(())
}

/// Syslog severity of an alert severity: critical 2, high 3, medium 4, low 5, other 6.
fn syslog_severity(s: &str) -> u8 {
    match s.to_ascii_lowercase().as_str() {
        "critical" => 2,
        "high" => 3,
        "medium" => 4,
        "low" => 5,
        _ => 6,
    }
}

/// A HOSTNAME-like header field: printable ASCII without spaces, at most `max`, `-` if empty.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// PARAM-VALUE escaping (RFC 5424 §6.3.3), control characters as spaces.
fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn local_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "-".into())
}

/// CEF header field escaping: `\` and `|`.
fn cef_header(s: &str) -> String {
    one_line(s).replace('\\', "\\\\").replace('|', "\\|")
}

/// CEF extension value escaping: `\`, `=` and line breaks.
fn cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace("\r\n", "\\n")
        .replace(['\n', '\r'], "\\n")
}

/// `CEF:0|Yagura|Yagura|version|rule|title|severity|extensions`.
fn cef(n: &Notice, notice_id: &str) -> String {
    let severity = match n.severity.to_ascii_lowercase().as_str() {
        "critical" => 10,
        "high" => 8,
        "medium" => 5,
        "low" => 3,
        _ => 1,
    };
    let mut ext = vec![
        ("externalId", n.alert_id.to_string()),
        ("cs1Label", "noticeId".into()),
        ("cs1", notice_id.to_string()),
        ("cat", n.kind.clone()),
        ("outcome", n.status.clone()),
        ("cnt", n.count.to_string()),
        ("start", n.first_seen_ms.to_string()),
        ("end", n.last_seen_ms.to_string()),
    ];
    let joined = |v: &[String]| v.join(",");
    if !n.users.is_empty() {
        ext.push(("suser", joined(&n.users)));
    }
    if !n.hosts.is_empty() {
        ext.push(("shost", joined(&n.hosts)));
    }
    if !n.ips.is_empty() {
        ext.push(("src", n.ips[0].clone()));
        ext.push(("cs2Label", "ips".into()));
        ext.push(("cs2", joined(&n.ips)));
    }
    if !n.techniques.is_empty() {
        ext.push(("cs3Label", "techniques".into()));
        ext.push(("cs3", joined(&n.techniques)));
    }
    if let Some(url) = &n.url {
        ext.push(("cs4Label", "url".into()));
        ext.push(("cs4", url.clone()));
    }
    if !n.description.is_empty() {
        ext.push(("msg", n.description.clone()));
    }
    let ext = ext
        .iter()
        .map(|(k, v)| format!("{k}={}", cef_value(v)))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "CEF:0|Yagura|Yagura|{}|{}|{}|{severity}|{ext}",
        env!("CARGO_PKG_VERSION"),
        cef_header(&n.rule_id),
        cef_header(&n.title),
    )
}
