//! The outbox on disk: `pending/` holds one JSON file per (notice, channel) until it is
//! delivered, `failed/` what exhausted its attempts (with the last error), `seq` the
//! sequence numbers already handed out.
//!
//! A file is written as `.NAME.tmp`, synced, renamed into place and the folder synced: a
//! crash leaves either no file or a whole one (stray `.tmp` files are removed at open).
//! Sequence numbers are leased 1,024 at a time (`seq` is rewritten, synced, once per lease),
//! so a restart never reuses one even when every message was delivered and removed. `lock`
//! is locked while a notifier has the outbox open.

use super::{Message, NotifyError};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const LEASE: u64 = 1024;

pub(crate) struct Outbox {
    /// Held (an exclusive advisory lock on `lock`) while the outbox is open, so that two
    /// processes never deliver the same messages.
    _lock: File,
    root: PathBuf,
    pending: PathBuf,
    failed: PathBuf,
}

/// What `open` found.
pub(crate) struct Loaded {
    /// Pending messages, in sequence order, with their file.
    pub messages: Vec<(PathBuf, Message)>,
    /// The first sequence number not used yet.
    pub next_seq: u64,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> NotifyError + '_ {
    move |source| NotifyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Syncs a folder, so that renames and new names in it are durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes `bytes` to `dir/name` through a synced temporary file (the folder is not synced).
fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The sequence number at the start of an outbox file name (`00000000000000000017.slack.json`).
fn seq_of(name: &str) -> Option<u64> {
    name.split('.').next()?.parse().ok()
}

impl Outbox {
    /// Creates the folders if needed, removes stray temporary files and reads what is
    /// pending. An unreadable pending file is moved to `failed/` as `NAME.unreadable` (and
    /// logged), not deleted.
    pub(crate) fn open(root: &Path) -> Result<(Outbox, Loaded), NotifyError> {
        let pending = root.join("pending");
        let failed = root.join("failed");
        fs::create_dir_all(&pending).map_err(io_err(&pending))?;
        fs::create_dir_all(&failed).map_err(io_err(&failed))?;
        let lock_path = root.join("lock");
        let lock = File::create(&lock_path).map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(NotifyError::Locked {
                    path: root.to_path_buf(),
                })
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let outbox = Outbox {
            _lock: lock,
            root: root.to_path_buf(),
            pending,
            failed,
        };
        let seq_path = root.join("seq");
        let mut next_seq = match fs::read_to_string(&seq_path) {
            Ok(s) => s.trim().parse::<u64>().unwrap_or_else(|_| {
                tracing::warn!(path = %seq_path.display(), "notify: unreadable sequence file; using the outbox's file names");
                0
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_err(&seq_path)(e)),
        };
        for entry in fs::read_dir(&outbox.failed).map_err(io_err(&outbox.failed))? {
            let entry = entry.map_err(io_err(&outbox.failed))?;
            if let Some(seq) = entry.file_name().to_str().and_then(seq_of) {
                next_seq = next_seq.max(seq + 1);
            }
        }
        let mut messages = Vec::new();
        for entry in fs::read_dir(&outbox.pending).map_err(io_err(&outbox.pending))? {
            let entry = entry.map_err(io_err(&outbox.pending))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                tracing::warn!(path = %path.display(), "notify: outbox file with a non UTF-8 name left alone");
                continue;
            };
            if name.starts_with('.') && name.ends_with(".tmp") {
                // An enqueue interrupted before its rename: it was never acknowledged.
                let _ = fs::remove_file(&path);
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            if let Some(seq) = seq_of(&name) {
                next_seq = next_seq.max(seq + 1);
            }
            let parsed = fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Message>(&b).map_err(|e| e.to_string()));
            match parsed {
                Ok(msg) => {
                    next_seq = next_seq.max(msg.seq + 1);
                    messages.push((path, msg));
                }
                Err(reason) => {
                    let to = outbox.failed.join(format!("{name}.unreadable"));
                    tracing::error!(path = %path.display(), moved_to = %to.display(), %reason,
                        "notify: unreadable outbox file moved to failed/");
                    fs::rename(&path, &to).map_err(io_err(&path))?;
                }
            }
        }
        sync_dir(&outbox.failed).map_err(io_err(&outbox.failed))?;
        messages.sort_by_key(|(_, m)| m.seq);
        Ok((outbox, Loaded { messages, next_seq }))
    }

    /// Records durably that sequence numbers up to (not including) `needed` may be used,
    /// leasing a block beyond. Returns the new lease end.
    pub(crate) fn lease(&self, needed: u64) -> Result<u64, NotifyError> {
        let end = needed.saturating_add(LEASE);
        write_file(&self.root, "seq", end.to_string().as_bytes())
            .and_then(|_| sync_dir(&self.root))
            .map_err(io_err(&self.root.join("seq")))?;
        Ok(end)
    }

    /// Writes a pending message (synced; the folder is synced by [`Outbox::sync_pending`]).
    pub(crate) fn write_pending(&self, msg: &Message) -> Result<PathBuf, NotifyError> {
        let bytes = serde_json::to_vec(msg).map_err(|source| NotifyError::Encode {
            alert_id: msg.notice.alert_id,
            source,
        })?;
        let name = format!("{:020}.{}.json", msg.seq, msg.channel);
        write_file(&self.pending, &name, &bytes).map_err(io_err(&self.pending.join(&name)))
    }

    /// Makes the new names in `pending/` durable.
    pub(crate) fn sync_pending(&self) -> Result<(), NotifyError> {
        sync_dir(&self.pending).map_err(io_err(&self.pending))
    }

    /// Removes a delivered (or abandoned) message. A failure is logged: at worst the message
    /// is delivered again after a restart.
    pub(crate) fn remove(&self, path: &Path) {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "notify: cannot remove a delivered message; it will be sent again after a restart")
            }
        }
    }

    /// Moves a message that exhausted its attempts to `failed/`, with the last error.
    pub(crate) fn give_up(&self, path: &Path, msg: &Message) -> Result<PathBuf, NotifyError> {
        let bytes = serde_json::to_vec_pretty(msg).map_err(|source| NotifyError::Encode {
            alert_id: msg.notice.alert_id,
            source,
        })?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{:020}.{}.json", msg.seq, msg.channel));
        let to = write_file(&self.failed, &name, &bytes)
            .and_then(|p| sync_dir(&self.failed).map(|()| p))
            .map_err(io_err(&self.failed.join(&name)))?;
        self.remove(path);
        Ok(to)
    }
}
