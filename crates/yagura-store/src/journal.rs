//! The journal: append-only NDJSON segments of ECS documents, the embedded store until the
//! indexed one lands. Each line is `{"yagura.seq":N, …the event's fields…}`; segment files are
//! `DIR/<first seq, 20 digits>.ndjson`. A line cut short by a crash is removed on open (its
//! events were never committed, so the indexer writes them again from the log).

use crate::{io, EventStore, StoreError};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Segment size at which a new file starts.
const SEGMENT_BYTES: u64 = 256 << 20;

/// The journal store.
pub struct Journal {
    dir: PathBuf,
    file: File,
    path: PathBuf,
    size: u64,
    buf: Vec<u8>,
    last_seq: u64,
    pending_seq: u64,
    fsync: bool,
}

fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(first) = name
            .strip_suffix(".ndjson")
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push((first, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

impl Journal {
    /// Opens (or creates) the journal in `dir`. `fsync`: sync on every commit.
    pub fn open(dir: &Path, fsync: bool) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let segs = segments(dir)?;
        let (path, last_seq) = match segs.last() {
            None => (dir.join(format!("{:020}.ndjson", 1)), 0),
            Some((first, path)) => {
                // Cut a torn last line, then read the last line's sequence number.
                let mut f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(io(path))?;
                let len = f.metadata().map_err(io(path))?.len();
                let tail_len = len.min(8 << 20);
                f.seek(SeekFrom::Start(len - tail_len)).map_err(io(path))?;
                let mut tail = Vec::with_capacity(tail_len as usize);
                f.read_to_end(&mut tail).map_err(io(path))?;
                let good = match memchr::memrchr(b'\n', &tail) {
                    Some(i) => len - tail_len + i as u64 + 1,
                    None => len - tail_len,
                };
                if good < len {
                    tracing::warn!(
                        "{}: cut {} bytes of a line torn by a crash",
                        path.display(),
                        len - good
                    );
                    f.set_len(good).map_err(io(path))?;
                    f.sync_all().map_err(io(path))?;
                }
                let keep = (good - (len - tail_len)) as usize;
                let tail = &tail[..keep];
                let last_line = match tail
                    .len()
                    .checked_sub(1)
                    .and_then(|e| memchr::memrchr(b'\n', &tail[..e]))
                {
                    Some(i) => &tail[i + 1..],
                    None => tail,
                };
                let last = crate::block::record_seq(last_line).unwrap_or(first.saturating_sub(1));
                (path.clone(), last)
            }
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let size = file.metadata().map_err(io(&path))?.len();
        Ok(Self {
            dir: dir.to_owned(),
            file,
            path,
            size,
            buf: Vec::with_capacity(1 << 20),
            last_seq,
            pending_seq: last_seq,
            fsync,
        })
    }
}

impl EventStore for Journal {
    type Prepared = ();
    fn prepare(&self, _: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }

    fn append(&mut self, seq: u64, doc: &[u8], _: ()) -> Result<(), StoreError> {
        if self.size + self.buf.len() as u64 >= SEGMENT_BYTES && self.buf.is_empty() {
            let path = self.dir.join(format!("{seq:020}.ndjson"));
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io(&path))?;
            self.path = path;
            self.size = 0;
        }
        self.buf.extend_from_slice(b"{\"yagura.seq\":");
        self.buf.extend_from_slice(seq.to_string().as_bytes());
        match doc.strip_prefix(b"{") {
            Some(rest) if rest.first() != Some(&b'}') => {
                self.buf.push(b',');
                self.buf.extend_from_slice(rest);
            }
            _ => self.buf.push(b'}'),
        }
        self.buf.push(b'\n');
        self.pending_seq = seq;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf).map_err(io(&self.path))?;
        if self.fsync {
            self.file.sync_data().map_err(io(&self.path))?;
        }
        self.size += self.buf.len() as u64;
        self.buf.clear();
        self.last_seq = self.pending_seq;
        Ok(())
    }

    fn sync(&mut self) -> Result<u64, StoreError> {
        self.file.sync_data().map_err(io(&self.path))?;
        // A new segment's directory entry must be durable too.
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(self.last_seq)
    }

    fn last_seq(&self) -> u64 {
        self.last_seq
    }
}

/// Calls `f` with every stored event line (without its newline), in sequence order.
pub fn read_events(dir: &Path, mut f: impl FnMut(&str)) -> Result<u64, StoreError> {
    let mut n = 0;
    if !dir.exists() {
        return Ok(0);
    }
    for (_, path) in segments(dir)? {
        let file = File::open(&path).map_err(io(&path))?;
        for line in BufReader::with_capacity(1 << 20, file).lines() {
            let line = line.map_err(io(&path))?;
            if !line.is_empty() {
                f(&line);
                n += 1;
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_commit_reopen_and_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut j = Journal::open(dir.path(), false).unwrap();
            assert_eq!(j.last_seq(), 0);
            j.append(1, br#"{"message":"a"}"#, ()).unwrap();
            j.append(2, b"{}", ()).unwrap();
            j.commit().unwrap();
            j.append(3, br#"{"message":"never committed"}"#, ())
                .unwrap();
        }
        let j = Journal::open(dir.path(), false).unwrap();
        assert_eq!(j.last_seq(), 2);
        let seg = dir.path().join(format!("{:020}.ndjson", 1));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(br#"{"yagura.seq":3,"mess"#).unwrap();
        drop(f);
        let j = Journal::open(dir.path(), false).unwrap();
        assert_eq!(j.last_seq(), 2);
        let mut lines = Vec::new();
        read_events(dir.path(), |l| lines.push(l.to_owned())).unwrap();
        assert_eq!(
            lines,
            [r#"{"yagura.seq":1,"message":"a"}"#, r#"{"yagura.seq":2}"#]
        );
    }
}
