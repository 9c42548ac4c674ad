//! Sorting with bounded memory: items (timeline detections, correlation captures) are buffered
//! up to a limit, then written as sorted runs (JSON lines in temp files) and merged k-way at the
//! end.

use anyhow::{Context, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The order a sorter hands its items back in.
pub type Order<T> = fn(&T, &T) -> Ordering;

/// Collects items and hands them back in `order`.
pub struct Sorter<T> {
    buffer: Vec<T>,
    limit: usize,
    order: Order<T>,
    runs: Vec<File>,
}

impl<T: Serialize + DeserializeOwned> Sorter<T> {
    /// A sorter that keeps at most `limit` items in memory (at least 1).
    pub fn new(limit: usize, order: Order<T>) -> Self {
        Self {
            buffer: Vec::new(),
            limit: limit.max(1),
            order,
            runs: Vec::new(),
        }
    }

    /// Sorted runs written so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Adds one item, spilling a sorted run when the buffer is full.
    pub fn push(&mut self, d: T) -> Result<()> {
        self.buffer.push(d);
        if self.buffer.len() >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.buffer.sort_by(self.order);
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

    /// Every item, in order.
    pub fn finish(mut self) -> Result<Merged<T>> {
        if self.runs.is_empty() {
            self.buffer.sort_by(self.order);
            return Ok(Merged::Memory(self.buffer.into_iter()));
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        let mut readers: Vec<_> = self.runs.into_iter().map(BufReader::new).collect();
        let mut heap = BinaryHeap::with_capacity(readers.len());
        let order = self.order;
        for (run, reader) in readers.iter_mut().enumerate() {
            if let Some(d) = read_one(reader)? {
                heap.push(Head { d, run, order });
            }
        }
        Ok(Merged::Runs { readers, heap })
    }
}

/// The next item of a run.
fn read_one<T: DeserializeOwned>(reader: &mut BufReader<File>) -> Result<Option<T>> {
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

/// The smallest unread item of one run; the heap is a max-heap, so the order is reversed.
pub struct Head<T> {
    d: T,
    run: usize,
    order: Order<T>,
}

impl<T> PartialEq for Head<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Head<T> {}
impl<T> PartialOrd for Head<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Head<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.order)(&other.d, &self.d).then_with(|| other.run.cmp(&self.run))
    }
}

/// Items in order, from memory or merged from runs.
pub enum Merged<T> {
    /// Everything fitted in memory.
    Memory(std::vec::IntoIter<T>),
    /// A k-way merge of sorted runs.
    Runs {
        /// One reader per run.
        readers: Vec<BufReader<File>>,
        /// The head of each non-exhausted run.
        heap: BinaryHeap<Head<T>>,
    },
}

impl<T: DeserializeOwned> Iterator for Merged<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Merged::Memory(it) => it.next().map(Ok),
            Merged::Runs { readers, heap } => {
                let Head { d, run, order } = heap.pop()?;
                match readers.get_mut(run).map(read_one) {
                    Some(Ok(Some(next))) => heap.push(Head {
                        d: next,
                        run,
                        order,
                    }),
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
    use crate::hunt::detection::Detection;

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
        let mut s = Sorter::new(3, Detection::timeline_cmp);
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
        let mut s = Sorter::new(100, Detection::timeline_cmp);
        s.push(det(2, 0)).unwrap();
        s.push(det(1, 1)).unwrap();
        assert!(s.runs.is_empty());
        let out: Vec<_> = s.finish().unwrap().map(|d| d.unwrap().ts).collect();
        assert_eq!(out, [Some(1), Some(2)]);
    }
}
