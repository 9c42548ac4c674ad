//! E-mail: a small SMTP client (RFC 5321) over `TcpStream`, with STARTTLS (RFC 3207, rustls)
//! and AUTH PLAIN / LOGIN (RFC 4954).
//!
//! Why not `lettre`: its SMTP transport always depends on `url` and `idna`, which bring the
//! ICU4X crates (about 30 crates new to the workspace, for internationalised domain names we do
//! not need), and it would still need its own TLS features wired to ours. What an alert mail
//! needs is one short, fixed dialogue: greeting, EHLO, optional STARTTLS and EHLO again,
//! optional AUTH, MAIL FROM, RCPT TO per recipient, DATA with dot-stuffing, QUIT; plus a
//! quoted-printable UTF-8 text body and an RFC 2047 subject. That is the code below.
//!
//! A 4xx reply is transient (retried), a 5xx permanent (the message goes to `failed/`). Every
//! recipient is accepted before DATA, so a rejected recipient never causes a partial delivery
//! that a retry would duplicate.

use super::render::{now_ms, one_line, plain_text, rfc5322};
use super::{Failure, Message};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// A mailbox: the header form as written and the bare address for the envelope.
#[derive(Clone, Debug)]
struct Mailbox {
    header: String,
    addr: String,
}

/// Parses `a@b` or `Name <a@b>`. ASCII only (no SMTPUTF8).
fn mailbox(s: &str) -> Result<Mailbox, String> {
    let s = s.trim();
    if !s.is_ascii() || s.chars().any(|c| c.is_ascii_control()) {
        return Err(format!(
            "{s:?}: only ASCII without control characters is supported"
        ));
    }
    let addr = match (s.find('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        (None, false) => s,
        _ => {
            return Err(format!(
                "{s:?}: expected a@example.com or Name <a@example.com>"
            ))
        }
    };
    let valid = addr.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !addr
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"'));
    if !valid {
        return Err(format!("{s:?}: not an e-mail address"));
    }
    Ok(Mailbox {
        header: s.to_string(),
        addr: addr.to_string(),
    })
}

/// A checked SMTP channel.
pub(crate) struct SmtpChannel {
    host: String,
    port: u16,
    from: Mailbox,
    to: Vec<Mailbox>,
    auth: Option<(String, String)>,
    /// Set when STARTTLS is required.
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    timeout: Duration,
}

impl SmtpChannel {
    /// Errors: (field, reason).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        host: &str,
        port: u16,
        from: &str,
        to: &[String],
        starttls: bool,
        auth: Option<(String, String)>,
        roots: Option<Vec<CertificateDer<'static>>>,
        timeout: Duration,
    ) -> Result<Self, (&'static str, String)> {
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(("host", format!("{host:?} is not a host name")));
        }
        let from = mailbox(from).map_err(|e| ("from", e))?;
        let to = to
            .iter()
            .map(|t| mailbox(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ("to", e))?;
        let tls = if starttls {
            let mut store = RootCertStore::empty();
            match roots {
                Some(certs) => {
                    for c in certs {
                        store
                            .add(c)
                            .map_err(|e| ("ca_file", format!("unusable certificate: {e}")))?;
                    }
                }
                None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| ("starttls", e.to_string()))?
                .with_root_certificates(store)
                .with_no_client_auth();
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(bare.to_string())
                .map_err(|_| ("host", format!("{host:?} is not a valid TLS server name")))?;
            Some((Arc::new(config), name))
        } else {
            if roots.is_some() {
                return Err(("ca_file", "only used with starttls = true".into()));
            }
            None
        };
        Ok(Self {
            host: host.to_string(),
            port,
            from,
            to,
            auth,
            tls,
            timeout,
        })
    }

    /// One attempt: one SMTP session for the message.
    pub(crate) fn deliver(&self, msg: &Message) -> Result<(), Failure> {
        let mut s = self.connect()?;
        let result = self.dialogue(&mut s, msg);
        if result.is_ok() {
            // The message is accepted once DATA got its 250; QUIT is a courtesy.
            let _ = s.command("QUIT");
        }
        result
    }

    fn connect(&self) -> Result<Session, Failure> {
        let target = format!("{}:{}", self.host, self.port);
        let addrs: Vec<SocketAddr> = (
            self.host.trim_start_matches('[').trim_end_matches(']'),
            self.port,
        )
            .to_socket_addrs()
            .map_err(|e| Failure::transient(format!("SMTP cannot resolve {target}: {e}")))?
            .collect();
        let mut last = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, self.timeout) {
                Ok(stream) => {
                    let set = stream
                        .set_read_timeout(Some(self.timeout))
                        .and_then(|()| stream.set_write_timeout(Some(self.timeout)));
                    if let Err(e) = set {
                        last = Some(e);
                        continue;
                    }
                    return Ok(Session {
                        conn: Conn::Plain(stream),
                        buf: Vec::new(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Failure::transient(match last {
            Some(e) => format!("SMTP cannot connect to {target}: {e}"),
            None => format!("SMTP cannot resolve {target}: no address"),
        }))
    }

    fn dialogue(&self, s: &mut Session, msg: &Message) -> Result<(), Failure> {
        s.expect("greeting", None, 220)?;
        let ehlo = format!("EHLO {}", s.client_name());
        let mut caps = s.expect("EHLO", Some(&ehlo), 250)?.lines;
        if let Some((config, name)) = &self.tls {
            if !has_cap(&caps, "STARTTLS") {
                return Err(Failure::permanent(
                    "SMTP server does not offer STARTTLS (starttls = true)".to_string(),
                ));
            }
            s.expect("STARTTLS", Some("STARTTLS"), 220)?;
            s.start_tls(config.clone(), name.clone())?;
            caps = s.expect("EHLO", Some(&ehlo), 250)?.lines;
        }
        if let Some((user, pass)) = &self.auth {
            let methods = caps
                .iter()
                .find_map(|l| {
                    let u = l.to_ascii_uppercase();
                    u.strip_prefix("AUTH")
                        .filter(|r| r.starts_with([' ', '=']))
                        .map(|r| r[1..].split_whitespace().map(str::to_string).collect())
                })
                .unwrap_or_else(Vec::<String>::new);
            if methods.iter().any(|m| m == "PLAIN") {
                let token = B64.encode(format!("\0{user}\0{pass}"));
                s.expect_secret("AUTH PLAIN", &format!("AUTH PLAIN {token}"), 235)?;
            } else if methods.iter().any(|m| m == "LOGIN") {
                s.expect("AUTH LOGIN", Some("AUTH LOGIN"), 334)?;
                s.expect_secret("AUTH LOGIN user", &B64.encode(user), 334)?;
                s.expect_secret("AUTH LOGIN password", &B64.encode(pass), 235)?;
            } else {
                return Err(Failure::permanent(
                    "SMTP server offers neither AUTH PLAIN nor AUTH LOGIN".to_string(),
                ));
            }
        }
        let mail = format!("MAIL FROM:<{}>", self.from.addr);
        s.expect(&mail, Some(&mail), 250)?;
        for rcpt in &self.to {
            let line = format!("RCPT TO:<{}>", rcpt.addr);
            let reply = s.command(&line)?;
            if !matches!(reply.code, 250 | 251) {
                return Err(reply.failure(&line));
            }
        }
        s.expect("DATA", Some("DATA"), 354)?;
        let body = dot_stuff(&self.message(msg));
        s.conn
            .write_all(body.as_bytes())
            .and_then(|()| s.conn.write_all(b".\r\n"))
            .and_then(|()| s.conn.flush())
            .map_err(|e| Failure::transient(format!("SMTP sending the message: {e}")))?;
        s.expect("end of DATA", None, 250)?;
        Ok(())
    }

    /// The RFC 5322 message, CRLF line ends, ending with CRLF.
    fn message(&self, msg: &Message) -> String {
        let n = &msg.notice;
        let domain = self
            .from
            .addr
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("yagura.invalid");
        let subject = format!("[Yagura] {}", super::render::headline(n));
        let to = self
            .to
            .iter()
            .map(|m| m.header.as_str())
            .collect::<Vec<_>>()
            .join(",\r\n ");
        let mut out = String::new();
        out.push_str(&format!("Date: {}\r\n", rfc5322(now_ms())));
        out.push_str(&format!("From: {}\r\n", self.from.header));
        out.push_str(&format!("To: {to}\r\n"));
        out.push_str(&format!("Subject: {}\r\n", encode_header(&subject)));
        out.push_str(&format!("Message-ID: <{}@{}>\r\n", msg.id, domain));
        out.push_str(&format!("{}: {}\r\n", super::http::ID_HEADER, msg.id));
        out.push_str(&format!("X-Yagura-Alert-Id: {}\r\n", n.alert_id));
        out.push_str(&format!(
            "X-Yagura-Severity: {}\r\n",
            one_line(&n.severity).replace(' ', "")
        ));
        out.push_str("Auto-Submitted: auto-generated\r\n");
        out.push_str("MIME-Version: 1.0\r\n");
        out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
        out.push_str("Content-Transfer-Encoding: quoted-printable\r\n");
        out.push_str("\r\n");
        out.push_str(&quoted_printable(&plain_text(n, &msg.id)));
        out
    }
}

fn has_cap(lines: &[String], cap: &str) -> bool {
    lines.iter().skip(1).any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(cap))
    })
}

/// A header value: as is when short ASCII, else RFC 2047 `=?UTF-8?B?…?=` words, folded.
fn encode_header(s: &str) -> String {
    let s = one_line(s);
    if s.is_ascii() && s.len() <= 200 {
        return s;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars().take(400) {
        // 45 bytes of UTF-8 are 60 base64 characters: each word stays under 75 characters.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", B64.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", B64.encode(&chunk)));
    }
    words.join("\r\n ")
}

/// Quoted-printable (RFC 2045 §6.7) of UTF-8 text, CRLF line ends, lines of at most 76.
fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line).as_bytes();
        let mut width = 0;
        for (i, &b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let encode = b == b'='
                || b >= 0x7f
                || (b < 0x20 && b != b'\t')
                || (last && (b == b' ' || b == b'\t'));
            let len = if encode { 3 } else { 1 };
            if width + len > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            if encode {
                out.push_str(&format!("={b:02X}"));
            } else {
                out.push(char::from(b));
            }
            width += len;
        }
        out.push_str("\r\n");
    }
    // `split` yields an empty last piece after a final newline: one CRLF too many.
    if text.ends_with('\n') {
        out.truncate(out.len() - 2);
    }
    out
}

/// Doubles a leading `.` on every line (RFC 5321 §4.5.2).
fn dot_stuff(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    if message.starts_with('.') {
        out.push('.');
    }
    out.push_str(&message.replace("\r\n.", "\r\n.."));
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Only while switching to TLS.
    Gone,
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
            Conn::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
            Conn::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
            Conn::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// One reply: code and the text of each line.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn failure(&self, stage: &str) -> Failure {
        let reason = format!(
            "SMTP {stage}: {} {}",
            self.code,
            self.lines.join(" / ").chars().take(300).collect::<String>()
        );
        if self.code >= 500 {
            Failure::permanent(reason)
        } else {
            Failure::transient(reason)
        }
    }
}

struct Session {
    conn: Conn,
    buf: Vec<u8>,
}

impl Session {
    /// The EHLO argument: our address as an address literal (always valid, RFC 5321 §4.1.3).
    fn client_name(&self) -> String {
        let local = match &self.conn {
            Conn::Plain(s) => s.local_addr().ok(),
            Conn::Tls(s) => s.sock.local_addr().ok(),
            Conn::Gone => None,
        };
        match local.map(|a| a.ip()) {
            Some(IpAddr::V4(ip)) => format!("[{ip}]"),
            Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
                Some(v4) => format!("[{v4}]"),
                None => format!("[IPv6:{ip}]"),
            },
            None => "[127.0.0.1]".into(),
        }
    }

    fn read_line(&mut self) -> Result<String, Failure> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            if self.buf.len() > 8192 {
                return Err(Failure::transient("SMTP reply line too long".into()));
            }
            let mut chunk = [0u8; 1024];
            let n = self
                .conn
                .read(&mut chunk)
                .map_err(|e| Failure::transient(format!("SMTP reading a reply: {e}")))?;
            if n == 0 {
                return Err(Failure::transient(
                    "SMTP server closed the connection".into(),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn read_reply(&mut self) -> Result<Reply, Failure> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (200..600).contains(c))
                .ok_or_else(|| {
                    Failure::transient(format!("SMTP unexpected reply {:?}", truncated(&line)))
                })?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok(Reply { code, lines });
            }
            if lines.len() > 200 {
                return Err(Failure::transient("SMTP reply too long".into()));
            }
        }
    }

    fn send_line(&mut self, line: &str) -> Result<(), Failure> {
        self.conn
            .write_all(line.as_bytes())
            .and_then(|()| self.conn.write_all(b"\r\n"))
            .and_then(|()| self.conn.flush())
            .map_err(|e| Failure::transient(format!("SMTP sending a command: {e}")))
    }

    fn command(&mut self, line: &str) -> Result<Reply, Failure> {
        self.send_line(line)?;
        self.read_reply()
    }

    /// Sends `line` (if any) and requires `code`.
    fn expect(&mut self, stage: &str, line: Option<&str>, code: u16) -> Result<Reply, Failure> {
        if let Some(line) = line {
            self.send_line(line)?;
        }
        let reply = self.read_reply()?;
        if reply.code == code {
            Ok(reply)
        } else {
            Err(reply.failure(stage))
        }
    }

    /// As `expect`, for a line that must not appear in errors.
    fn expect_secret(&mut self, stage: &str, line: &str, code: u16) -> Result<Reply, Failure> {
        self.expect(stage, Some(line), code)
    }

    fn start_tls(
        &mut self,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<(), Failure> {
        if !self.buf.is_empty() {
            // RFC 3207 §4.2: anything the server sent before the TLS handshake is suspect.
            return Err(Failure::transient(
                "SMTP server sent data after its STARTTLS reply".into(),
            ));
        }
        let Conn::Plain(tcp) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            return Err(Failure::transient("SMTP STARTTLS twice".into()));
        };
        let tls = ClientConnection::new(config, name)
            .map_err(|e| Failure::permanent(format!("SMTP TLS setup: {e}")))?;
        let mut stream = StreamOwned::new(tls, tcp);
        // Complete the handshake now, so that a certificate error is reported as such.
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| Failure::transient(format!("SMTP TLS handshake: {e}")))?;
        }
        self.conn = Conn::Tls(Box::new(stream));
        Ok(())
    }
}

fn truncated(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp() {
        assert_eq!(quoted_printable("a=b\n"), "a=3Db\r\n");
        assert_eq!(quoted_printable("é"), "=C3=A9\r\n");
        assert_eq!(quoted_printable("end \nx"), "end=20\r\nx\r\n");
        let long = "x".repeat(100);
        let enc = quoted_printable(&long);
        assert!(enc.lines().all(|l| l.len() <= 76), "{enc}");
        assert_eq!(enc.replace("=\r\n", ""), format!("{long}\r\n"));
    }

    #[test]
    fn stuffing() {
        assert_eq!(dot_stuff(".a\r\nb\r\n.c\r\n"), "..a\r\nb\r\n..c\r\n");
    }

    #[test]
    fn mailboxes() {
        assert_eq!(
            mailbox("Yagura <soc@example.com>").unwrap().addr,
            "soc@example.com"
        );
        assert_eq!(
            mailbox("soc@example.com").unwrap().header,
            "soc@example.com"
        );
        assert!(mailbox("soc").is_err());
        assert!(mailbox("a b@c").is_err());
        assert!(mailbox("x <a@b").is_err());
    }

    #[test]
    fn subject() {
        let s = encode_header(&"警報".repeat(30));
        assert!(s.lines().all(|l| l.trim().len() <= 76), "{s}");
        assert!(s.starts_with("=?UTF-8?B?"));
    }
}
