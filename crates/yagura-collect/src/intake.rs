//! What every listener shares: the log to append to, the counters, the dead-letter file, and
//! the size limit of one record.

use crate::deadletter::{DeadLetter, DeadLetters};
use crate::metrics::{Metrics, SourceStats};
use crate::raw::Batch;
use crate::wal::{Refused, SeqRange, Wal};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Why a batch was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Downstream has fallen behind or the queue is full: retry later (HTTP 429).
    #[error("busy: the write-ahead log is at its bound, retry later")]
    Busy,
    /// The log failed or is closed (HTTP 503).
    #[error("write-ahead log unavailable: {0}")]
    Unavailable(String),
}

/// The shared state of the listeners.
pub struct Intake {
    /// Where accepted records go.
    pub wal: Arc<dyn Wal>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Refused records.
    pub dead: Arc<DeadLetters>,
    /// Largest record accepted, in bytes.
    pub max_record_bytes: usize,
}

impl Intake {
    /// Appends `batch`, waiting for room first (TCP, file tailing: the sender is slowed down);
    /// returns once it is durable.
    pub async fn append_wait(&self, mut batch: Batch) -> Result<SeqRange, IntakeError> {
        if batch.is_empty() {
            return Ok(SeqRange { first: 1, last: 0 });
        }
        loop {
            match self.wal.try_append(batch) {
                Ok(ticket) => return finish(ticket).await,
                Err(Refused::Full(b)) => {
                    batch = b;
                    self.wal.room().await;
                }
                Err(Refused::Closed) => {
                    return Err(IntakeError::Unavailable("closed".into()));
                }
            }
        }
    }

    /// Queues `batch` or refuses at once when the log is at its bound (HTTP: 429).
    pub fn try_queue(&self, batch: Batch) -> Result<crate::wal::Ticket, IntakeError> {
        match self.wal.try_append(batch) {
            Ok(t) => Ok(t),
            Err(Refused::Full(_)) => Err(IntakeError::Busy),
            Err(Refused::Closed) => Err(IntakeError::Unavailable("closed".into())),
        }
    }

    /// [`Intake::try_queue`], then waits until durable.
    pub async fn append_or_refuse(&self, batch: Batch) -> Result<SeqRange, IntakeError> {
        if batch.is_empty() {
            return Ok(SeqRange { first: 1, last: 0 });
        }
        finish(self.try_queue(batch)?).await
    }

    /// Keeps refused records and counts them.
    pub fn dead_letters(&self, stats: &SourceStats, letters: &[DeadLetter]) {
        if letters.is_empty() {
            return;
        }
        stats
            .errors
            .fetch_add(letters.len() as u64, Ordering::Relaxed);
        match self.dead.write(letters) {
            Ok(()) => {
                stats
                    .dead_letters
                    .fetch_add(letters.len() as u64, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(
                "cannot write {} dead letters to {}: {e}",
                letters.len(),
                self.dead.path().display()
            ),
        }
    }
}

/// Waits for a ticket.
pub async fn finish(ticket: crate::wal::Ticket) -> Result<SeqRange, IntakeError> {
    match ticket.await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(IntakeError::Unavailable(e.to_string())),
        Err(_) => Err(IntakeError::Unavailable("writer stopped".into())),
    }
}

/// Checks one record's bytes: size and UTF-8. `Err` carries the dead-letter reason.
pub fn check_text(data: &[u8], max: usize) -> Result<&str, String> {
    if data.len() > max {
        return Err(format!(
            "oversized: {} bytes, the limit is {max}",
            data.len()
        ));
    }
    std::str::from_utf8(data).map_err(|e| {
        format!(
            "not valid UTF-8 at byte {} (set the sender to UTF-8)",
            e.valid_up_to()
        )
    })
}

/// Checks that `data` is one JSON object. `Err` carries the dead-letter reason.
pub fn check_json_object(data: &[u8], max: usize) -> Result<(), String> {
    let text = check_text(data, max)?;
    if !text.trim_start().starts_with('{') {
        return Err("invalid JSON: not an object".into());
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| format!("invalid JSON: {e}"))
}
