//! Syslog listeners: UDP (one datagram, one record), TCP and TLS (newline-delimited or octet
//! counted, RFC 6587 / RFC 5425). Messages are kept as sent (RFC 3164 or RFC 5424 alike);
//! `yagura-normalize` parses the header and the structured data.
//!
//! Backpressure: a TCP or TLS connection reads its next chunk only once the records of the
//! last one are durable, so a slow log slows the sender (TCP's window), and memory stays at
//! one read buffer per connection. UDP cannot be slowed: when the log is full, datagrams are
//! dropped and counted (`yagura_dropped_total`), as are the kernel's own drops.

use crate::deadletter::DeadLetter;
use crate::framing::{Frame, Framer};
use crate::intake::{check_text, Intake, IntakeError};
use crate::raw::{now_ms, Batch, Envelope, Format};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};

/// Read size of one TCP chunk.
const CHUNK: usize = 64 << 10;

/// Connections served at once per TCP/TLS listener; further senders wait in the kernel's
/// backlog. With one read buffer each, this bounds the listener's memory (4,096 × 64 KiB).
pub const MAX_CONNECTIONS: usize = 4096;

/// A syslog route: listener name and the source type its records get.
#[derive(Clone, Debug)]
pub struct Route {
    /// Listener name (`syslog-udp`, `syslog-tcp`, `syslog-tls`).
    pub listener: Arc<str>,
    /// Source type (`auto` to detect).
    pub source_type: Arc<str>,
}

impl Route {
    /// The envelope of a message from `peer` received at `now`.
    fn envelope<'a>(&'a self, peer: &'a str, now: i64) -> Envelope<'a> {
        Envelope::received(
            &self.listener,
            &self.source_type,
            peer,
            "",
            "",
            now,
            Format::Text,
        )
    }
}

/// Serves syslog over UDP on `socket` until the task is dropped.
pub async fn serve_udp(socket: UdpSocket, route: Route, intake: Arc<Intake>) {
    let mut buf = vec![0u8; 65_536];
    let mut last_peer: Option<(std::net::IpAddr, Arc<crate::metrics::SourceStats>)> = None;
    let mut batch = Batch::new();
    let mut peer_text = String::new();
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        // Take every datagram already waiting into the same batch.
        let mut pending = Some((n, peer));
        let mut letters = Vec::new();
        let now = now_ms();
        let mut count = 0;
        while let Some((n, peer)) = pending.take() {
            let stats = match &last_peer {
                Some((ip, s)) if *ip == peer.ip() => s.clone(),
                _ => {
                    let s = intake
                        .metrics
                        .source(&route.listener, &peer.ip().to_string());
                    last_peer = Some((peer.ip(), s.clone()));
                    s
                }
            };
            let data = trim(&buf[..n]);
            match check_text(data, intake.max_record_bytes) {
                Ok(_) if data.is_empty() => {}
                Ok(_) => {
                    peer_text.clear();
                    use std::fmt::Write as _;
                    let _ = write!(peer_text, "{peer}");
                    batch.push(&route.envelope(&peer_text, now), data);
                    stats.accepted(1, data.len() as u64, now);
                    count += 1;
                }
                Err(reason) => {
                    letters.push((
                        stats.clone(),
                        DeadLetter::new(&route.listener, &peer.ip().to_string(), reason, data),
                    ));
                }
            }
            if count < 1024 {
                if let Ok(next) = socket.try_recv_from(&mut buf) {
                    pending = Some(next);
                }
            }
        }
        for (stats, l) in letters {
            intake.dead_letters(&stats, std::slice::from_ref(&l));
        }
        if batch.is_empty() {
            continue;
        }
        let full = std::mem::take(&mut batch);
        let n = full.len() as u64;
        match intake.try_queue(full) {
            // Nobody waits for a UDP acknowledgement: let the writer finish on its own.
            Ok(_ticket) => {}
            Err(_) => {
                if let Some((_, s)) = &last_peer {
                    s.events.fetch_sub(n, Ordering::Relaxed);
                    s.drops.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b'\n' | b'\r' | b'\0') {
        end -= 1;
    }
    &b[..end]
}

/// Serves syslog over TCP on `listener` (plain, or TLS with `tls`) until dropped.
pub async fn serve_tcp(
    listener: TcpListener,
    route: Route,
    intake: Arc<Intake>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let route = route.clone();
        let intake = intake.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => read_stream(s, peer, &route, &intake).await,
                    Err(e) => {
                        tracing::warn!("{}: TLS handshake with {peer} failed: {e}", route.listener);
                        intake
                            .metrics
                            .source(&route.listener, &peer.ip().to_string())
                            .errors
                            .fetch_add(1, Ordering::Relaxed);
                    }
                },
                None => read_stream(stream, peer, &route, &intake).await,
            }
        });
    }
}

/// Reads one connection to its end.
pub async fn read_stream<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    route: &Route,
    intake: &Intake,
) {
    let source = peer.ip().to_string();
    let peer_text = peer.to_string();
    let stats = intake.metrics.source(&route.listener, &source);
    let mut framer = Framer::new(intake.max_record_bytes);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    loop {
        if buf.capacity() - buf.len() < CHUNK / 4 {
            buf.reserve(CHUNK);
        }
        let eof = match stream.read_buf(&mut buf).await {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                tracing::debug!("{}: {peer}: read: {e}", route.listener);
                true
            }
        };
        let now = now_ms();
        let mut batch = Batch::new();
        let mut letters = Vec::new();
        let mut bytes = 0u64;
        framer.split(&mut buf, eof, |frame| match frame {
            Frame::Record(r) => match check_text(r, usize::MAX) {
                Ok(_) => {
                    bytes += r.len() as u64;
                    batch.push(&route.envelope(&peer_text, now), r);
                }
                Err(reason) => letters.push(DeadLetter::new(&route.listener, &source, reason, r)),
            },
            Frame::Oversized(prefix, len) => letters.push(DeadLetter::new(
                &route.listener,
                &source,
                format!(
                    "oversized: {len} bytes, the limit is {} (first {} bytes kept)",
                    intake.max_record_bytes,
                    prefix.len()
                ),
                prefix,
            )),
        });
        intake.dead_letters(&stats, &letters);
        let n = batch.len() as u64;
        if n > 0 {
            match intake.append_wait(batch).await {
                Ok(_) => stats.accepted(n, bytes, now),
                Err(IntakeError::Busy) | Err(IntakeError::Unavailable(_)) => {
                    stats.drops.fetch_add(n, Ordering::Relaxed);
                    tracing::error!(
                        "{}: {peer}: the log is unavailable; closing",
                        route.listener
                    );
                    return;
                }
            }
        }
        if eof {
            return;
        }
    }
}

/// Builds a TLS acceptor from PEM files (certificate chain, private key).
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("TLS certificate and key: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Datagrams the kernel dropped on the UDP socket bound to `port` (from `/proc/net/udp*`).
pub fn kernel_udp_drops(port: u16) -> u64 {
    let mut total = 0;
    for f in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let Some(local) = cols.get(1) else { continue };
            let Some((_, p)) = local.rsplit_once(':') else {
                continue;
            };
            if u16::from_str_radix(p, 16).ok() == Some(port) {
                total += cols.last().and_then(|d| d.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    total
}
