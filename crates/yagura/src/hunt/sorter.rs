//! Timeline sorting with bounded memory: detections are buffered up to a limit, then written as
//! sorted runs (JSON lines in temp files) and merged k-way at the end.

use anyhow::{Context, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

use super::detection::Detection;

/// Collects detections and hands them back in timeline order.
pub struct Sorter {
    buffer: Vec<Detection>,
    limit: usize,
    runs: Vec<File>,
}

impl Sorter {
    /// A sorter that keeps at most `limit` detections in memory (at least 1).
    pub fn new(limit: usize) -> Self {
        Self {
            buffer: Vec::new(),
            limit: limit.max(1),
            runs: Vec::new(),
        }
    }

    /// Adds one detection, spilling a sorted run when the buffer is full.
    pub fn push(&mut self, d: Detection) -> Result<()> {
        self.buffer.push(d);
        if self.buffer.len() >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.buffer.sort_by(Detection::timeline_cmp);
        let mut file = tempfile::tempfile().context("cannot create a temp file for sorting")?;
        {
            let mut w = BufWriter::new(&mut file);
            for d in self.buffer.drain(..) {
                serde_json::to_writer(&mut w, &d)?;
                w.write_all(b"\n")?;
            }
            w.flush().context("cannot write a sorted run")?;
        }
        file.seek(SeekFrom::Start(0))?;
        self.runs.push(file);
        Ok(())
    }

    /// Every detection, in timeline order.
    pub fn finish(mut self) -> Result<Merged> {
        if self.runs.is_empty() {
            self.buffer.sort_by(Detection::timeline_cmp);
            return Ok(Merged::Memory(self.buffer.into_iter()));
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        let mut readers: Vec<_> = self.runs.into_iter().map(BufReader::new).collect();
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (run, reader) in readers.iter_mut().enumerate() {
            if let Some(d) = read_one(reader)? {
                heap.push(Head { d, run });
            }
        }
        Ok(Merged::Runs { readers, heap })
    }
}

/// The next detection of a run.
fn read_one(reader: &mut BufReader<File>) -> Result<Option<Detection>> {
    let mut line = String::new();
    if reader
        .read_line(&mut line)
        .context("cannot read a sorted run")?
        == 0
    {
        return Ok(None);
    }
    Ok(Some(
        serde_json::from_str(&line).context("corrupt sorted run")?,
    ))
}

/// The smallest unread detection of one run; the heap is a max-heap, so the order is reversed.
pub struct Head {
    d: Detection,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .d
            .timeline_cmp(&self.d)
            .then_with(|| other.run.cmp(&self.run))
    }
}

/// Detections in timeline order, from memory or merged from runs.
pub enum Merged {
    /// Everything fitted in memory.
    Memory(std::vec::IntoIter<Detection>),
    /// A k-way merge of sorted runs.
    Runs {
        /// One reader per run.
        readers: Vec<BufReader<File>>,
        /// The head of each non-exhausted run.
        heap: BinaryHeap<Head>,
    },
}

impl Iterator for Merged {
    type Item = Result<Detection>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Merged::Memory(it) => it.next().map(Ok),
            Merged::Runs { readers, heap } => {
                let Head { d, run } = heap.pop()?;
                match readers.get_mut(run).map(read_one) {
                    Some(Ok(Some(next))) => heap.push(Head { d: next, run }),
                    Some(Err(e)) => return Some(Err(e)),
                    _ => {}
                }
                Some(Ok(d))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(ts: i64, record: u64) -> Detection {
        Detection {
            ts: Some(ts),
            rule: 0,
            computer: "h".into(),
            channel: "c".into(),
            event_id: Some(1),
            file: "f".into(),
            record,
            fields: String::new(),
        }
    }

    #[test]
    fn spills_and_merges_in_order() {
        let mut s = Sorter::new(3);
        let times = [9, 3, 7, 1, 8, 2, 6, 4, 5, 0, 3];
        for (i, t) in times.iter().enumerate() {
            s.push(det(*t, i as u64)).unwrap();
        }
        assert_eq!(s.runs.len(), 3);
        let out: Vec<_> = s
            .finish()
            .unwrap()
            .map(|d| d.unwrap().ts.unwrap())
            .collect();
        assert_eq!(out, [0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn in_memory_when_small() {
        let mut s = Sorter::new(100);
        s.push(det(2, 0)).unwrap();
        s.push(det(1, 1)).unwrap();
        assert!(s.runs.is_empty());
        let out: Vec<_> = s.finish().unwrap().map(|d| d.unwrap().ts).collect();
        assert_eq!(out, [Some(1), Some(2)]);
    }
}
