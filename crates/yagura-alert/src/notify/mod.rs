//! Delivery of alerts to webhooks, chat (Slack, Teams), e-mail (SMTP) and syslog: durably,
//! at least once, with retries.
//!
//! [`Notifier::send`] writes one message per channel that accepts the notice's severity into
//! an outbox folder and syncs it before returning; one background thread delivers them. A
//! failed attempt waits an exponential, jittered backoff and tries again; a message that
//! exhausts its attempts (or gets a permanent refusal, such as HTTP 404 or SMTP 550) moves to
//! `failed/` with its last error. After a restart, [`Notifier::open`] delivers what is still
//! pending. Every message has a stable id, `{alert_id}-{channel}-{seq}`, sent as the
//! `X-Yagura-Notice-Id` header (HTTP, e-mail; the e-mail `Message-ID` is built from it, and
//! syslog carries it as `notice_id`), so that a receiver can drop the duplicates that
//! at-least-once delivery allows. See `docs/notifications.md`.
//!
//! Per channel, messages go in order: only the oldest one is attempted, and while it waits
//! for its backoff, the channel waits (a dead receiver is probed once per backoff, not once
//! per queued alert). Channels do not wait for each other's backoffs, but share the one
//! thread, so an attempt to a slow receiver delays the others by up to its timeout.

mod config;
mod http;
mod outbox;
mod render;
mod smtp;
mod syslog;

pub use config::{ChannelConfig, RetryConfig};

use config::{Channel, Sink};
use outbox::Outbox;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The payload of one alert, as every channel renders it. The generic webhook POSTs exactly
/// this as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The alert's id in the alert database.
    pub alert_id: u64,
    /// The id of the rule that raised it.
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// Triage status (`new`, `acknowledged`, …).
    pub status: String,
    /// `detection` (one event matched) or `correlation`.
    pub kind: String,
    /// Users involved.
    pub users: Vec<String>,
    /// Hosts involved.
    pub hosts: Vec<String>,
    /// IP addresses involved.
    pub ips: Vec<String>,
    /// Matches folded into the alert.
    pub count: u64,
    /// First match, Unix milliseconds.
    pub first_seen_ms: i64,
    /// Latest match, Unix milliseconds.
    pub last_seen_ms: i64,
    /// MITRE ATT&CK technique ids (`T1110`, `T1059.001`).
    pub techniques: Vec<String>,
    /// The rule's description.
    pub description: String,
    /// Link to the alert in the console.
    pub url: Option<String>,
}

/// Errors of the notifier. Delivery failures are not errors of `send`: they are retried and
/// reported in [`ChannelStats`] and in the log.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A `[[notify]]` table is invalid.
    #[error("notify channel {channel:?}: {field}: {reason}")]
    Config {
        /// The channel's `name`.
        channel: String,
        /// The offending field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The outbox could not be read or written.
    #[error("notify outbox {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Another notifier (in this process or another) has the outbox open.
    #[error("notify outbox {}: in use by another notifier", path.display())]
    Locked {
        /// The outbox folder.
        path: PathBuf,
    },
    /// A notice could not be encoded as JSON.
    #[error("notify: cannot encode the notice of alert {alert_id}: {source}")]
    Encode {
        /// The alert.
        alert_id: u64,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// The delivery thread could not be started.
    #[error("notify: cannot start the delivery thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Delivery figures of one channel since [`Notifier::open`] (`pending` is the current
/// queue, messages reloaded from the outbox included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// The channel's `name`.
    pub name: String,
    /// Its `kind`.
    pub kind: String,
    /// Messages delivered.
    pub sent: u64,
    /// Attempts that failed (retried or not).
    pub failed_attempts: u64,
    /// Messages waiting in the outbox.
    pub pending: u64,
    /// Messages moved to `failed/` after their last attempt.
    pub given_up: u64,
    /// The latest failure, if any.
    pub last_error: Option<String>,
    /// When it happened, Unix milliseconds.
    pub last_error_ms: Option<i64>,
}

/// The rank of a severity: informational 0 … critical 4 (`info` is accepted too).
pub(crate) fn severity_rank(s: &str) -> Option<u8> {
    match s.to_ascii_lowercase().as_str() {
        "informational" | "info" => Some(0),
        "low" => Some(1),
        "medium" => Some(2),
        "high" => Some(3),
        "critical" => Some(4),
        _ => None,
    }
}

/// One message of the outbox: a notice bound for one channel.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Message {
    /// `{alert_id}-{channel}-{seq}`.
    pub id: String,
    pub channel: String,
    pub seq: u64,
    pub created_ms: i64,
    pub notice: Notice,
    /// Set in `failed/`: attempts made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Set in `failed/`: the last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Set in `failed/`: when the message was given up, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_up_ms: Option<i64>,
}

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub reason: String,
    pub permanent: bool,
    /// The receiver asked to wait this long (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn transient(reason: String) -> Self {
        Self {
            reason,
            permanent: false,
            retry_after: None,
        }
    }
    pub(crate) fn permanent(reason: String) -> Self {
        Self {
            reason,
            permanent: true,
            retry_after: None,
        }
    }
}

impl Channel {
    fn deliver(&self, msg: &Message) -> Result<(), Failure> {
        match &self.sink {
            Sink::Http(h) => h.deliver(msg),
            Sink::Smtp(s) => s.deliver(msg),
            Sink::Syslog(s) => s.deliver(msg),
        }
    }

    /// The wait after failed attempt `attempt` (1-based): `initial · 2^(attempt-1)` capped at
    /// `max`, then 50–100 % of it; at least `retry_after` (capped at `max` too).
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let r = &self.retry;
        let exp = r
            .initial
            .checked_mul(1u32 << attempt.saturating_sub(1).min(30))
            .unwrap_or(r.max)
            .min(r.max);
        let jittered = exp.mul_f64(0.5 + 0.5 * random_unit());
        match retry_after {
            Some(ra) => jittered.max(ra.min(r.max)),
            None => jittered,
        }
    }
}

/// A uniform number in [0, 1), from the standard library's randomly keyed hasher.
fn random_unit() -> f64 {
    use std::hash::BuildHasher;
    let h = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

struct Queued {
    path: PathBuf,
    msg: Message,
}

#[derive(Default)]
struct ChanState {
    queue: VecDeque<Queued>,
    /// Failed attempts of the message at the head of the queue.
    head_attempts: u32,
    /// The head may not be tried before this.
    not_before: Option<Instant>,
    sent: u64,
    failed_attempts: u64,
    given_up: u64,
    last_error: Option<String>,
    last_error_ms: Option<i64>,
}

struct State {
    chans: Vec<ChanState>,
    shutdown: bool,
    next_seq: u64,
    /// Sequence numbers below this are durably leased.
    lease_end: u64,
    /// Where the next search for due work starts (round robin over channels).
    cursor: usize,
}

struct Shared {
    channels: Vec<Channel>,
    outbox: Outbox,
    state: Mutex<State>,
    /// Wakes the delivery thread: new work or shutdown.
    work: Condvar,
    /// Wakes `flush`: a message left the queues.
    progress: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The delivery service: an outbox and one background thread. `Send + Sync`: share it
/// behind an `Arc`. Dropping it stops the thread as [`Notifier::shutdown`] does.
pub struct Notifier {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// How long `shutdown` waits for an attempt in progress.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

impl Notifier {
    /// Checks `channels` (an error names the channel and field), opens (or creates) the
    /// outbox in `outbox_dir`, queues what it holds for the configured channels, and starts
    /// the delivery thread.
    ///
    /// Pending messages of a channel that is no longer configured are left in the outbox
    /// (and logged); they are delivered once a channel of that name is configured again.
    pub fn open(outbox_dir: &Path, channels: Vec<ChannelConfig>) -> Result<Notifier, NotifyError> {
        let mut built: Vec<Channel> = Vec::with_capacity(channels.len());
        for c in &channels {
            let ch = c.build()?;
            if built.iter().any(|b| b.name == ch.name) {
                return Err(NotifyError::Config {
                    channel: ch.name,
                    field: "name".into(),
                    reason: "two [[notify]] channels have this name".into(),
                });
            }
            built.push(ch);
        }
        let (outbox, loaded) = Outbox::open(outbox_dir)?;
        let mut chans: Vec<ChanState> = built.iter().map(|_| ChanState::default()).collect();
        let mut orphans = 0usize;
        for (path, msg) in loaded.messages {
            match built.iter().position(|c| c.name == msg.channel) {
                Some(i) => chans[i].queue.push_back(Queued { path, msg }),
                None => orphans += 1,
            }
        }
        if orphans > 0 {
            tracing::warn!(
                outbox = %outbox_dir.display(),
                messages = orphans,
                "notify: pending messages for channels that are not configured stay in the outbox"
            );
        }
        let reloaded: usize = chans.iter().map(|c| c.queue.len()).sum();
        if reloaded > 0 {
            tracing::info!(
                messages = reloaded,
                "notify: delivering messages pending from before the restart"
            );
        }
        let shared = Arc::new(Shared {
            channels: built,
            outbox,
            state: Mutex::new(State {
                chans,
                shutdown: false,
                next_seq: loaded.next_seq,
                lease_end: loaded.next_seq,
                cursor: 0,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("yagura-notify".into())
            .spawn(move || run(&worker))
            .map_err(NotifyError::Thread)?;
        Ok(Notifier {
            shared,
            thread: Some(thread),
        })
    }

    /// Enqueues `notice` for every channel whose `min_severity` it reaches (a severity that
    /// is not one of the five names reaches every channel). Returns once the messages are
    /// durable in the outbox; delivery happens in the background. On error nothing is
    /// enqueued.
    pub fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        let rank = severity_rank(&notice.severity).unwrap_or(u8::MAX);
        let targets: Vec<usize> = (0..self.shared.channels.len())
            .filter(|&i| rank >= self.shared.channels[i].min_rank)
            .collect();
        if targets.is_empty() {
            return Ok(());
        }
        let first = {
            let mut st = self.shared.lock();
            let first = st.next_seq;
            let end = first + targets.len() as u64;
            if end > st.lease_end {
                st.lease_end = self.shared.outbox.lease(end)?;
            }
            st.next_seq = end;
            first
        };
        let created_ms = render::now_ms();
        let mut written: Vec<(usize, Queued)> = Vec::with_capacity(targets.len());
        for (k, &i) in targets.iter().enumerate() {
            let channel = self.shared.channels[i].name.clone();
            let seq = first + k as u64;
            let msg = Message {
                id: format!("{}-{}-{}", notice.alert_id, channel, seq),
                channel,
                seq,
                created_ms,
                notice: notice.clone(),
                attempts: None,
                last_error: None,
                given_up_ms: None,
            };
            match self.shared.outbox.write_pending(&msg) {
                Ok(path) => written.push((i, Queued { path, msg })),
                Err(e) => {
                    for (_, q) in &written {
                        self.shared.outbox.remove(&q.path);
                    }
                    return Err(e);
                }
            }
        }
        if let Err(e) = self.shared.outbox.sync_pending() {
            for (_, q) in &written {
                self.shared.outbox.remove(&q.path);
            }
            return Err(e);
        }
        let mut st = self.shared.lock();
        for (i, q) in written {
            st.chans[i].queue.push_back(q);
        }
        drop(st);
        self.shared.work.notify_all();
        Ok(())
    }

    /// Per channel, in configuration order.
    pub fn stats(&self) -> Vec<ChannelStats> {
        let st = self.shared.lock();
        self.shared
            .channels
            .iter()
            .zip(&st.chans)
            .map(|(c, s)| ChannelStats {
                name: c.name.clone(),
                kind: c.kind.clone(),
                sent: s.sent,
                failed_attempts: s.failed_attempts,
                pending: s.queue.len() as u64,
                given_up: s.given_up,
                last_error: s.last_error.clone(),
                last_error_ms: s.last_error_ms,
            })
            .collect()
    }

    /// Waits until no message is pending (delivered or given up), at most `timeout`.
    /// Returns whether the queues are empty.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if st.chans.iter().all(|c| c.queue.is_empty()) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .progress
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Stops the delivery thread: at once when it is idle or waiting, else after the
    /// attempt in progress, waiting at most 2 s for it (the thread is then left to finish
    /// that attempt on its own, and the outbox stays locked until it ends). What is not
    /// delivered stays in the outbox for the next [`Notifier::open`].
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!("notify: an attempt is still in progress at shutdown; its message stays in the outbox");
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The delivery thread.
fn run(shared: &Shared) {
    loop {
        // Find the next due head of a queue, or sleep until one is due.
        let (i, path, msg) = {
            let mut st = shared.lock();
            loop {
                if st.shutdown {
                    return;
                }
                let now = Instant::now();
                let n = st.chans.len();
                let mut wake: Option<Instant> = None;
                let mut due = None;
                for k in 0..n {
                    let i = (st.cursor + k) % n;
                    let c = &st.chans[i];
                    if c.queue.is_empty() {
                        continue;
                    }
                    match c.not_before {
                        Some(t) if t > now => wake = Some(wake.map_or(t, |w| w.min(t))),
                        _ => {
                            due = Some(i);
                            break;
                        }
                    }
                }
                if let Some(i) = due {
                    st.cursor = (i + 1) % n;
                    let head = &st.chans[i].queue[0];
                    break (i, head.path.clone(), head.msg.clone());
                }
                st = match wake {
                    Some(t) => {
                        shared
                            .work
                            .wait_timeout(st, t.saturating_duration_since(now))
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                    None => shared.work.wait(st).unwrap_or_else(PoisonError::into_inner),
                };
            }
        };
        let channel = &shared.channels[i];
        let result = channel.deliver(&msg);
        match result {
            Ok(()) => {
                shared.outbox.remove(&path);
                let mut st = shared.lock();
                let c = &mut st.chans[i];
                c.queue.pop_front();
                c.head_attempts = 0;
                c.not_before = None;
                c.sent += 1;
                tracing::debug!(channel = %channel.name, notice_id = %msg.id, "notify: delivered");
            }
            Err(f) => {
                let attempts = {
                    let st = shared.lock();
                    st.chans[i].head_attempts + 1
                };
                let now_ms = render::now_ms();
                let give_up = f.permanent || attempts >= channel.retry.max_attempts;
                tracing::warn!(
                    channel = %channel.name,
                    kind = %channel.kind,
                    notice_id = %msg.id,
                    attempt = attempts,
                    max_attempts = channel.retry.max_attempts,
                    reason = %f.reason,
                    "notify: delivery attempt failed"
                );
                if give_up {
                    let failed = Message {
                        attempts: Some(attempts),
                        last_error: Some(f.reason.clone()),
                        given_up_ms: Some(now_ms),
                        ..msg.clone()
                    };
                    match shared.outbox.give_up(&path, &failed) {
                        Ok(to) => tracing::error!(
                            channel = %channel.name,
                            notice_id = %msg.id,
                            attempts,
                            reason = %f.reason,
                            moved_to = %to.display(),
                            "notify: giving up on a message"
                        ),
                        Err(e) => tracing::error!(
                            channel = %channel.name,
                            notice_id = %msg.id,
                            error = %e,
                            "notify: giving up on a message, which cannot be moved to failed/; it stays pending for the next start"
                        ),
                    }
                }
                let mut st = shared.lock();
                let c = &mut st.chans[i];
                c.failed_attempts += 1;
                c.last_error = Some(f.reason.clone());
                c.last_error_ms = Some(now_ms);
                if give_up {
                    c.queue.pop_front();
                    c.head_attempts = 0;
                    c.not_before = None;
                    c.given_up += 1;
                } else {
                    c.head_attempts = attempts;
                    c.not_before = Some(Instant::now() + channel.backoff(attempts, f.retry_after));
                }
            }
        }
        shared.progress.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let c = ChannelConfig {
            name: "h".into(),
            kind: "webhook".into(),
            url: Some("http://127.0.0.1:1/".into()),
            ..Default::default()
        }
        .build()
        .unwrap();
        let ms = |d: Duration| d.as_millis() as u64;
        for _ in 0..100 {
            let b1 = ms(c.backoff(1, None));
            assert!((500..=1000).contains(&b1), "{b1}");
            let b4 = ms(c.backoff(4, None));
            assert!((4000..=8000).contains(&b4), "{b4}");
            let b30 = ms(c.backoff(30, None));
            assert!((150_000..=300_000).contains(&b30), "{b30}");
            let ra = ms(c.backoff(1, Some(Duration::from_secs(30))));
            assert_eq!(ra, 30_000);
            let capped = ms(c.backoff(1, Some(Duration::from_secs(3600))));
            assert_eq!(capped, 300_000);
        }
    }

    #[test]
    fn severities() {
        assert!(severity_rank("critical") > severity_rank("high"));
        assert_eq!(severity_rank("INFO"), Some(0));
        assert_eq!(severity_rank("urgent"), None);
    }
}
