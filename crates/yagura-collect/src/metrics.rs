//! Counters per listener and source, the Prometheus text they are served as, and the health
//! verdict (a source that has gone quiet is flagged).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of one source (a sending host) on one listener. Listeners keep an `Arc` to it per
/// connection or peer, so counting costs a few atomic adds, not a map look-up, per record.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Records accepted into the write-ahead log.
    pub events: AtomicU64,
    /// Bytes of accepted records.
    pub bytes: AtomicU64,
    /// Records refused as malformed (also kept as dead letters).
    pub errors: AtomicU64,
    /// Records dropped: UDP datagrams that found the log full, records refused for
    /// backpressure (HTTP 429).
    pub drops: AtomicU64,
    /// Records written to the dead-letter file.
    pub dead_letters: AtomicU64,
    /// Last record, Unix ms.
    pub last_seen_ms: AtomicI64,
    /// Events per second over the last sampling period (set by [`Metrics::sample`]).
    pub rate: AtomicU64,
    /// Arrival time minus event time of the source's last stored event, ms (set by the
    /// store's indexer; a growing lag means the sender is behind or its clock is off).
    pub lag_ms: AtomicI64,
    prev_events: AtomicU64,
}

impl SourceStats {
    /// Counts `n` accepted records of `bytes` bytes, seen at `now_ms`.
    pub fn accepted(&self, n: u64, bytes: u64, now_ms: i64) {
        self.events.fetch_add(n, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.last_seen_ms.fetch_max(now_ms, Ordering::Relaxed);
    }
}

/// Every listener's counters.
#[derive(Debug)]
pub struct Metrics {
    sources: Mutex<BTreeMap<(String, String), Arc<SourceStats>>>,
    /// UDP datagrams dropped by the kernel (socket buffer full), per listener.
    kernel_drops: Mutex<BTreeMap<String, u64>>,
    /// A source with no record for this long is flagged as quiet.
    pub quiet_after_ms: i64,
    started_ms: i64,
    last_sample_ms: AtomicI64,
}

/// Escapes a Prometheus label value.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Empty counters; sources quiet after `quiet_after_ms`.
    pub fn new(quiet_after_ms: i64) -> Self {
        let now = crate::raw::now_ms();
        Self {
            sources: Mutex::new(BTreeMap::new()),
            kernel_drops: Mutex::new(BTreeMap::new()),
            quiet_after_ms,
            started_ms: now,
            last_sample_ms: AtomicI64::new(now),
        }
    }

    /// The counters of `source` on `listener`, created on first use.
    pub fn source(&self, listener: &str, source: &str) -> Arc<SourceStats> {
        let Ok(mut map) = self.sources.lock() else {
            return Arc::default();
        };
        map.entry((listener.to_owned(), source.to_owned()))
            .or_default()
            .clone()
    }

    /// Sets the kernel's drop count of a UDP listener.
    pub fn set_kernel_drops(&self, listener: &str, drops: u64) {
        if let Ok(mut m) = self.kernel_drops.lock() {
            m.insert(listener.to_owned(), drops);
        }
    }

    /// Updates every source's events/s; call every few seconds.
    pub fn sample(&self) {
        let now = crate::raw::now_ms();
        let prev = self.last_sample_ms.swap(now, Ordering::AcqRel);
        let dt = (now - prev).max(1) as f64 / 1000.0;
        let Ok(map) = self.sources.lock() else {
            return;
        };
        for s in map.values() {
            let events = s.events.load(Ordering::Relaxed);
            let before = s.prev_events.swap(events, Ordering::Relaxed);
            s.rate
                .store(((events - before) as f64 / dt) as u64, Ordering::Relaxed);
        }
    }

    /// Milliseconds since the last record of `st` (since start when it has none).
    fn idle_ms(&self, st: &SourceStats, now_ms: i64) -> i64 {
        let last = st.last_seen_ms.load(Ordering::Relaxed);
        now_ms - if last == 0 { self.started_ms } else { last }
    }

    /// Sources with no record for [`Metrics::quiet_after_ms`]: `(listener, source, ms since)`.
    pub fn quiet_sources(&self, now_ms: i64) -> Vec<(String, String, i64)> {
        let Ok(map) = self.sources.lock() else {
            return Vec::new();
        };
        map.iter()
            .filter_map(|((l, s), st)| {
                let since = self.idle_ms(st, now_ms);
                (since >= self.quiet_after_ms).then(|| (l.clone(), s.clone(), since))
            })
            .collect()
    }

    /// Prometheus text exposition of every counter, plus `extra` lines (the log's gauges).
    /// Each family's samples are written together, as the format requires.
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let now = crate::raw::now_ms();
        let mut out = String::new();
        let Ok(map) = self.sources.lock() else {
            return out;
        };
        type Get = fn(&Metrics, &SourceStats, i64) -> f64;
        let families: [(&str, &str, &str, Get); 9] = [
            (
                "yagura_events_received_total",
                "counter",
                "Records accepted into the write-ahead log",
                |_, s, _| s.events.load(Ordering::Relaxed) as f64,
            ),
            (
                "yagura_bytes_received_total",
                "counter",
                "Bytes of accepted records",
                |_, s, _| s.bytes.load(Ordering::Relaxed) as f64,
            ),
            (
                "yagura_errors_total",
                "counter",
                "Records refused as malformed",
                |_, s, _| s.errors.load(Ordering::Relaxed) as f64,
            ),
            (
                "yagura_dropped_total",
                "counter",
                "Records dropped (UDP with the log full, HTTP 429 refusals)",
                |_, s, _| s.drops.load(Ordering::Relaxed) as f64,
            ),
            (
                "yagura_dead_letters_total",
                "counter",
                "Records kept in the dead-letter file",
                |_, s, _| s.dead_letters.load(Ordering::Relaxed) as f64,
            ),
            (
                "yagura_events_per_second",
                "gauge",
                "Accepted records per second over the last sampling period",
                |_, s, _| s.rate.load(Ordering::Relaxed) as f64,
            ),
            (
                "yagura_source_lag_seconds",
                "gauge",
                "Arrival time minus event time of the source's last stored event",
                |_, s, _| s.lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            ),
            (
                "yagura_source_idle_seconds",
                "gauge",
                "Seconds since the source's last record",
                |m, s, now| m.idle_ms(s, now) as f64 / 1000.0,
            ),
            (
                "yagura_source_quiet",
                "gauge",
                "1 when the source has been idle longer than the quiet threshold",
                |m, s, now| f64::from(u8::from(m.idle_ms(s, now) >= m.quiet_after_ms)),
            ),
        ];
        for (name, kind, help, get) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((l, s), st) in map.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{listener=\"{}\",source=\"{}\"}} {}",
                    label(l),
                    label(s),
                    get(self, st, now)
                );
            }
        }
        drop(map);
        let _ = writeln!(out, "# HELP yagura_udp_kernel_drops_total Datagrams the kernel dropped on a full socket buffer\n# TYPE yagura_udp_kernel_drops_total counter");
        if let Ok(k) = self.kernel_drops.lock() {
            for (l, d) in k.iter() {
                let _ = writeln!(
                    out,
                    "yagura_udp_kernel_drops_total{{listener=\"{}\"}} {d}",
                    label(l)
                );
            }
        }
        for (name, help, v) in extra {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_and_quiet() {
        let m = Metrics::new(60_000);
        let s = m.source("syslog-tcp", "10.0.0.\"1");
        s.accepted(3, 300, crate::raw::now_ms());
        let quiet = m.source("http", "old");
        quiet.accepted(1, 1, crate::raw::now_ms() - 120_000);
        let text = m.render(&[("yagura_wal_lag_records", "lag", 5.0)]);
        assert!(text.contains(
            "yagura_events_received_total{listener=\"syslog-tcp\",source=\"10.0.0.\\\"1\"} 3"
        ));
        assert!(text.contains(
            "yagura_bytes_received_total{listener=\"syslog-tcp\",source=\"10.0.0.\\\"1\"} 300"
        ));
        assert!(text.contains("yagura_source_quiet{listener=\"http\",source=\"old\"} 1"));
        assert!(text.contains("yagura_wal_lag_records 5"));
        let q = m.quiet_sources(crate::raw::now_ms());
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].1, "old");
    }
}
