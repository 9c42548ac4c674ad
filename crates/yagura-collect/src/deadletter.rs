//! Dead letters: records that could not be accepted (oversized, not UTF-8, invalid JSON),
//! kept with the reason so that nothing a sender sent vanishes.
//!
//! File: `DIR/deadletter.ndjson`, one JSON object per record:
//! `{"time_ms":…,"listener":"http","source":"127.0.0.1","reason":"invalid JSON: …",
//! "data":"…"}`, or `"data_base64"` when the bytes are not UTF-8. `yagura deadletter list`
//! prints them; `yagura deadletter replay` sends them back through the log as text records.

use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One dead letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// When it arrived, Unix ms.
    pub time_ms: i64,
    /// Listener it arrived on.
    pub listener: String,
    /// Sending host.
    pub source: String,
    /// Why it was refused.
    pub reason: String,
    /// The bytes, when they are UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The bytes in base64, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
}

impl DeadLetter {
    /// A dead letter for `bytes`.
    pub fn new(listener: &str, source: &str, reason: String, bytes: &[u8]) -> Self {
        use base64::Engine as _;
        let (data, data_base64) = match std::str::from_utf8(bytes) {
            Ok(s) => (Some(s.to_owned()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ),
        };
        Self {
            time_ms: crate::raw::now_ms(),
            listener: listener.to_owned(),
            source: source.to_owned(),
            reason,
            data,
            data_base64,
        }
    }

    /// The original bytes.
    pub fn bytes(&self) -> Vec<u8> {
        use base64::Engine as _;
        match (&self.data, &self.data_base64) {
            (Some(s), _) => s.as_bytes().to_vec(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }
}

/// The dead-letter file, appended to by every listener.
#[derive(Debug)]
pub struct DeadLetters {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl DeadLetters {
    /// The file of the folder `dir` (created on the first dead letter).
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("deadletter.ndjson"),
            file: Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends and syncs `letters` (before the sender hears they were refused).
    pub fn write(&self, letters: &[DeadLetter]) -> io::Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for l in letters {
            serde_json::to_writer(&mut buf, l)?;
            buf.push(b'\n');
        }
        let mut guard = self
            .file
            .lock()
            .map_err(|_| io::Error::other("dead-letter lock poisoned"))?;
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                fs::create_dir_all(dir)?;
            }
            *guard = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let f = guard.as_mut().ok_or_else(|| io::Error::other("no file"))?;
        f.write_all(&buf)?;
        f.sync_data()
    }
}

/// Reads every dead letter of `path`; a damaged line is returned as an error with its number.
pub fn read_all(path: &Path) -> io::Result<Vec<Result<DeadLetter, String>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1)),
        );
    }
    Ok(out)
}

/// Rewrites the file with only `keep` (after a replay), atomically.
pub fn rewrite(path: &Path, keep: &[DeadLetter]) -> io::Result<()> {
    let tmp = path.with_extension("ndjson.tmp");
    {
        let mut f = File::create(&tmp)?;
        for l in keep {
            serde_json::to_writer(&mut f, l)?;
            f.write_all(b"\n")?;
        }
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let d = DeadLetters::new(dir.path());
        d.write(&[
            DeadLetter::new("http", "1.2.3.4", "invalid JSON: x".into(), b"{oops"),
            DeadLetter::new("syslog-udp", "5.6.7.8", "not UTF-8".into(), &[0xff, 0xfe]),
        ])
        .unwrap();
        let all = read_all(d.path()).unwrap();
        assert_eq!(all.len(), 2);
        let b = all[1].as_ref().unwrap();
        assert_eq!(b.bytes(), vec![0xff, 0xfe]);
        assert!(b.data.is_none());
        assert_eq!(all[0].as_ref().unwrap().data.as_deref(), Some("{oops"));
        rewrite(d.path(), std::slice::from_ref(b)).unwrap();
        assert_eq!(read_all(d.path()).unwrap().len(), 1);
    }
}
