//! File tailing: follows files as they grow, across rotation (rename and create, or copy and
//! truncate), with a read position that survives restarts.
//!
//! Positions are kept two ways: in `DIR/positions.json` (written after each durable batch) and
//! in every record's envelope (file identity and end offset). On start the later of the two
//! wins, so a crash between a durable batch and the positions file neither re-reads nor skips
//! a line: the log itself says how far the file was read.

use crate::intake::Intake;
use crate::raw::{now_ms, Batch, Envelope, Format};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One tailed file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailSpec {
    /// The file.
    pub path: PathBuf,
    /// Source type of its lines (`auto` to detect).
    #[serde(default = "auto")]
    pub source_type: String,
    /// Where to start in a file never read before: `beginning` (default) or `end`.
    #[serde(default)]
    pub read_from: ReadFrom,
}

fn auto() -> String {
    "auto".into()
}

/// Where a first read starts.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    /// From the first byte.
    #[default]
    Beginning,
    /// From the end (only new lines).
    End,
}

/// A read position.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Position {
    /// File identity (inode).
    pub file_id: u64,
    /// Bytes read.
    pub offset: u64,
}

/// The positions of every tailed file.
#[derive(Debug)]
pub struct Positions {
    path: PathBuf,
    map: Mutex<BTreeMap<String, Position>>,
}

impl Positions {
    /// Loads `DIR/positions.json` (missing: empty).
    pub fn load(dir: &Path) -> Self {
        let path = dir.join("positions.json");
        let map = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            path,
            map: Mutex::new(map),
        }
    }

    /// Raises the position of `stream` to `pos` when `pos` is later (same file, further on).
    pub fn observe(&self, stream: &str, pos: Position) {
        if let Ok(mut m) = self.map.lock() {
            let e = m.entry(stream.to_owned()).or_insert(pos);
            if e.file_id != pos.file_id || pos.offset > e.offset {
                *e = pos;
            }
        }
    }

    /// The position of `stream`.
    pub fn get(&self, stream: &str) -> Option<Position> {
        self.map.lock().ok().and_then(|m| m.get(stream).copied())
    }

    /// Sets and saves the position of `stream` (atomically: temp file and rename).
    pub fn save(&self, stream: &str, pos: Position) -> std::io::Result<()> {
        let text = {
            let mut m = self
                .map
                .lock()
                .map_err(|_| std::io::Error::other("positions lock poisoned"))?;
            m.insert(stream.to_owned(), pos);
            serde_json::to_vec_pretty(&*m)?
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}

const CHUNK: usize = 256 << 10;

/// Follows `spec.path` until the task is dropped.
pub async fn tail(spec: TailSpec, intake: Arc<Intake>, positions: Arc<Positions>, poll: Duration) {
    let stream = spec.path.display().to_string();
    let stats = intake.metrics.source("tail", &stream);
    let mut file: Option<(std::fs::File, u64)> = None; // (file, inode)
    let mut offset = 0u64;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut warned = false;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        if file.is_none() {
            match std::fs::File::open(&spec.path) {
                Ok(f) => {
                    let meta = f.metadata().ok();
                    let ino = meta.as_ref().map_or(0, |m| m.ino());
                    let len = meta.as_ref().map_or(0, |m| m.len());
                    offset = match positions.get(&stream) {
                        Some(p) if p.file_id == ino && p.offset <= len => p.offset,
                        Some(_) => 0,
                        None if spec.read_from == ReadFrom::End => len,
                        None => 0,
                    };
                    buf.clear();
                    file = Some((f, ino));
                    warned = false;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!("tail {stream}: {e}; waiting for it to appear");
                        warned = true;
                    }
                    tokio::time::sleep(poll).await;
                    continue;
                }
            }
        }
        let Some((f, ino)) = file.as_mut() else {
            continue;
        };
        let ino = *ino;
        // Read what is there.
        let read_from = offset + buf.len() as u64;
        let n = match f
            .seek(SeekFrom::Start(read_from))
            .and_then(|_| f.read(&mut chunk))
        {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("tail {stream}: read: {e}");
                0
            }
        };
        if n > 0 {
            buf.extend_from_slice(&chunk[..n]);
            let now = now_ms();
            let mut batch = Batch::new();
            let mut letters = Vec::new();
            let mut consumed = 0usize;
            let mut bytes = 0u64;
            while let Some(i) = memchr::memchr(b'\n', &buf[consumed..]) {
                let line = &buf[consumed..consumed + i];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                consumed += i + 1;
                if line.is_empty() {
                    continue;
                }
                match crate::intake::check_text(line, intake.max_record_bytes) {
                    Ok(_) => {
                        bytes += line.len() as u64;
                        batch.push(
                            &Envelope {
                                received_ms: now,
                                listener: "tail",
                                source_type: &spec.source_type,
                                peer: "",
                                host: "",
                                stream: &stream,
                                offset: offset + consumed as u64,
                                file_id: ino,
                                format: Format::Text,
                            },
                            line,
                        );
                    }
                    Err(reason) => letters.push(crate::deadletter::DeadLetter::new(
                        "tail",
                        &stream,
                        format!("byte {}: {reason}", offset + consumed as u64),
                        line,
                    )),
                }
            }
            // A line longer than the limit without its newline yet: keep its head as a dead
            // letter and skip it.
            if consumed == 0 && buf.len() > intake.max_record_bytes {
                letters.push(crate::deadletter::DeadLetter::new(
                    "tail",
                    &stream,
                    format!(
                        "byte {offset}: oversized line, the limit is {}",
                        intake.max_record_bytes
                    ),
                    &buf[..intake.max_record_bytes],
                ));
                consumed = buf.len();
            }
            intake.dead_letters(&stats, &letters);
            let count = batch.len() as u64;
            if count > 0 && intake.append_wait(batch).await.is_err() {
                tracing::error!("tail {stream}: the log is unavailable; stopping");
                return;
            }
            stats.accepted(count, bytes, now);
            offset += consumed as u64;
            buf.drain(..consumed);
            if let Err(e) = positions.save(
                &stream,
                Position {
                    file_id: ino,
                    offset,
                },
            ) {
                tracing::warn!("tail {stream}: cannot save position: {e}");
            }
            if n == CHUNK {
                continue;
            }
        }
        tokio::time::sleep(poll).await;
        // Rotated (a new file at the path) or truncated?
        match std::fs::metadata(&spec.path) {
            Ok(m) if m.ino() != ino => {
                // Finish the old file first: anything written to it before the rename.
                let len = f.metadata().map_or(0, |m| m.len());
                if len > offset + buf.len() as u64 {
                    continue;
                }
                tracing::info!("tail {stream}: rotated; following the new file");
                positions.observe(
                    &stream,
                    Position {
                        file_id: m.ino(),
                        offset: 0,
                    },
                );
                file = None;
            }
            Ok(m) if m.len() < offset => {
                tracing::info!("tail {stream}: truncated; reading from the start");
                offset = 0;
                buf.clear();
            }
            Ok(_) => {}
            Err(_) => {}
        }
    }
}
