//! `yagura verify` and `yagura prove`: recompute every hash of a store against its signed log,
//! and print the inclusion proof of one event.
//!
//! Verification reads everything: each flush group of the log (checksums), every signed tree
//! head (signature, and its root recomputed from the leaves), and every block of every
//! partition (its leaf is the logged one, its payload hash, each record's hash and the block's
//! events root). It names the first thing that does not match: a record altered or removed
//! (by its block and position, and its `yagura.seq` when readable), a block missing, replaced
//! or out of order, a leaf or head altered. Retention deletions are signed leaves, so a
//! partition they name is expected to be gone; any other gap is reported.

use crate::block;
use crate::merkle::{self, Hash, Leaf, Tree};
use crate::proof::{self, Proof, SignedTreeHead};
use crate::store::{read_groups, read_heads};
use crate::StoreError;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::path::Path;

/// What verification found.
#[derive(Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Leaves in the log.
    pub leaves: u64,
    /// Signed heads checked.
    pub heads: u64,
    /// Blocks checked.
    pub blocks: u64,
    /// Events checked.
    pub events: u64,
    /// Partitions dropped by retention (signed).
    pub deleted_partitions: u64,
    /// Everything that failed, first failure first.
    pub problems: Vec<String>,
    /// What is not a failure but worth saying (bytes of a flush a crash cut short, which the
    /// store removes when it next opens: never logged, so never part of the record).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// True when nothing failed.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Reads the installation's public key from the store (`keys/signing.pub`).
pub fn store_public_key(dir: &Path) -> Result<[u8; 32], StoreError> {
    let p = dir.join("keys").join(proof::PUBLIC_KEY_FILE);
    let text = std::fs::read_to_string(&p).map_err(|source| StoreError::Io {
        path: p.clone(),
        source,
    })?;
    parse_public_key(text.trim()).ok_or_else(|| {
        StoreError::Corrupt(format!("{}: not a hex ed25519 public key", p.display()))
    })
}

/// Parses a hex public key.
pub fn parse_public_key(s: &str) -> Option<[u8; 32]> {
    proof::from_hex_array::<32>(s.trim())
}

struct LoggedBlock {
    leaf_index: u64,
    leaf_bytes: Vec<u8>,
    leaf: merkle::BlockLeaf,
}

/// Verifies the store in `dir` against `public_key`.
pub fn verify(dir: &Path, public_key: &[u8; 32]) -> Result<VerifyReport, StoreError> {
    let mut r = VerifyReport::default();
    let leaves_path = dir.join("log").join("leaves.dat");
    let (groups, _, stopped) = read_groups(&leaves_path)?;
    if let Some(s) = stopped {
        r.problems.push(format!("log: {s} (altered or cut)"));
    }
    let mut tree = Tree::new();
    let mut parts: BTreeMap<String, Vec<LoggedBlock>> = BTreeMap::new();
    let mut deleted: HashSet<String> = HashSet::new();
    for g in &groups {
        for l in &g.leaves {
            let idx = tree.len() as u64;
            tree.push(merkle::leaf_hash(l));
            match Leaf::decode(l) {
                Ok(Leaf::Block(b)) => {
                    parts
                        .entry(b.partition.clone())
                        .or_default()
                        .push(LoggedBlock {
                            leaf_index: idx,
                            leaf_bytes: l.clone(),
                            leaf: b,
                        })
                }
                Ok(Leaf::Deletion(d)) => {
                    let named: HashSet<u64> = d.leaf_indices.iter().copied().collect();
                    let had: HashSet<u64> = parts
                        .get(&d.partition)
                        .map(|v| v.iter().map(|b| b.leaf_index).collect())
                        .unwrap_or_default();
                    if named != had {
                        r.problems.push(format!(
                            "log leaf {idx}: the deletion of {} names {} blocks, the log held {}",
                            d.partition,
                            named.len(),
                            had.len()
                        ));
                    }
                    parts.remove(&d.partition);
                    deleted.insert(d.partition.clone());
                    r.deleted_partitions += 1;
                }
                Err(e) => r
                    .problems
                    .push(format!("log leaf {idx}: cannot be decoded ({e})")),
            }
        }
    }
    r.leaves = tree.len() as u64;
    // Heads.
    let heads = read_heads(&dir.join("log").join("heads.dat")).unwrap_or_else(|e| {
        r.problems.push(format!("heads: {e}"));
        Vec::new()
    });
    let hlen = std::fs::metadata(dir.join("log").join("heads.dat")).map_or(0, |m| m.len());
    if !hlen.is_multiple_of(proof::SIGNED_TREE_HEAD_LEN as u64) {
        r.problems.push(format!(
            "heads: {} bytes is not a whole number of {}-byte heads (altered or cut)",
            hlen,
            proof::SIGNED_TREE_HEAD_LEN
        ));
    }
    let mut last_size = 0;
    for (i, h) in heads.iter().enumerate() {
        r.heads += 1;
        if !h.verify(public_key) {
            r.problems
                .push(format!("head {i}: signature does not verify"));
            continue;
        }
        if h.head.size < last_size {
            r.problems.push(format!(
                "head {i}: tree size went down ({} after {last_size})",
                h.head.size
            ));
        }
        last_size = h.head.size;
        match tree.root_at(h.head.size as usize) {
            Some(root) if root == h.head.root => {}
            Some(_) => r.problems.push(format!(
                "head {i}: the log's first {} leaves do not hash to the signed root (a leaf altered, removed or reordered)",
                h.head.size
            )),
            None => r.problems.push(format!(
                "head {i}: signs {} leaves, the log holds {} (leaves removed)",
                h.head.size,
                tree.len()
            )),
        }
    }
    if last_size < tree.len() as u64 {
        r.problems.push(format!(
            "log: leaves {}..{} are covered by no signed head",
            last_size,
            tree.len()
        ));
    }
    // Blocks.
    for (key, logged) in &parts {
        verify_partition(dir, key, logged, &mut r)?;
    }
    // Partitions on disk that the log does not name.
    if let Ok(rd) = std::fs::read_dir(dir.join("parts")) {
        for src in rd.flatten() {
            if let Ok(days) = std::fs::read_dir(src.path()) {
                for d in days.flatten() {
                    let key = format!(
                        "{}/{}",
                        src.file_name().to_string_lossy(),
                        d.file_name().to_string_lossy()
                    );
                    if !parts.contains_key(&key) && d.path().join("blocks.dat").exists() {
                        let len =
                            std::fs::metadata(d.path().join("blocks.dat")).map_or(0, |m| m.len());
                        if len > 0 {
                            r.problems.push(format!(
                                "partition {key}: {len} bytes of blocks the log does not name"
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(r)
}

fn verify_partition(
    dir: &Path,
    key: &str,
    logged: &[LoggedBlock],
    r: &mut VerifyReport,
) -> Result<(), StoreError> {
    let path = dir.join("parts").join(key).join("blocks.dat");
    let scan = block::scan(&path)?;
    let mut file = File::open(&path).ok();
    for (i, lb) in logged.iter().enumerate() {
        let Some(meta) = scan.blocks.get(i) else {
            r.problems.push(format!(
                "partition {key}: block {i} (log leaf {}, events from yagura.seq {}) is missing{}",
                lb.leaf_index,
                lb.leaf.first_seq,
                scan.stopped
                    .as_ref()
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default()
            ));
            return Ok(());
        };
        if meta.leaf_bytes != lb.leaf_bytes {
            r.problems.push(format!(
                "partition {key}: block {i} at offset {} is not the block the log names (log leaf {}): altered, replaced or reordered",
                meta.offset, lb.leaf_index
            ));
            continue;
        }
        r.blocks += 1;
        let Some(f) = file.as_mut() else {
            continue;
        };
        let data = match block::read(f, &path, meta.offset, meta.len) {
            Ok(d) => d,
            Err(e) => {
                r.problems.push(format!("partition {key}: block {i}: {e}"));
                continue;
            }
        };
        if *blake3::hash(&data.compressed).as_bytes() != lb.leaf.payload_hash {
            r.problems.push(format!(
                "partition {key}: block {i} (log leaf {}): its compressed records were altered",
                lb.leaf_index
            ));
        }
        let hashes: Vec<Hash> = data.records().map(merkle::event_leaf).collect();
        r.events += hashes.len() as u64;
        if hashes.len() as u32 != lb.leaf.count || merkle::root(&hashes) != lb.leaf.events_root {
            // Name the first record whose hash is not the one written with the block.
            let recs: Vec<&[u8]> = data.records().collect();
            let first_bad = (0..recs.len().max(data.prefixes.len())).find(|&j| {
                match (hashes.get(j), data.prefixes.get(j)) {
                    (Some(h), Some(p)) => h[..8] != p[..],
                    _ => true,
                }
            });
            let what = match first_bad {
                Some(j) => {
                    let seq = recs
                        .get(j)
                        .and_then(|rec| crate::block::record_seq(rec))
                        .map(|s| format!(" (yagura.seq {s})"))
                        .unwrap_or_default();
                    format!("record {j}{seq} altered, removed or out of order")
                }
                None => "its records do not hash to the signed root".into(),
            };
            r.problems.push(format!(
                "partition {key}: block {i} (log leaf {}): {what}; the block holds {} records, the log says {}",
                lb.leaf_index,
                hashes.len(),
                lb.leaf.count
            ));
        }
    }
    let end = logged
        .len()
        .checked_sub(1)
        .and_then(|i| scan.blocks.get(i))
        .map_or(0, |m| m.offset + m.len);
    if scan.file_len > end && logged.len() <= scan.blocks.len() {
        r.notes.push(format!(
            "partition {key}: {} bytes after the last logged block belong to a flush that did not finish (not part of the record; cut when the store next opens)",
            scan.file_len - end
        ));
    }
    Ok(())
}

/// Builds the inclusion proof of the event `id` (`yagura.seq`) against the latest signed head.
pub fn prove(dir: &Path, id: u64) -> Result<Proof, StoreError> {
    let (groups, _, _) = read_groups(&dir.join("log").join("leaves.dat"))?;
    let mut tree = Tree::new();
    let mut blocks: Vec<(u64, merkle::BlockLeaf)> = Vec::new();
    for g in &groups {
        for l in &g.leaves {
            let idx = tree.len() as u64;
            tree.push(merkle::leaf_hash(l));
            if let Ok(Leaf::Block(b)) = Leaf::decode(l) {
                blocks.push((idx, b));
            }
        }
    }
    let heads = read_heads(&dir.join("log").join("heads.dat"))?;
    let head: &SignedTreeHead = heads
        .last()
        .ok_or_else(|| StoreError::Corrupt("no signed tree head yet".into()))?;
    // Candidate blocks: those whose id range can hold `id` (ids grow with storage order).
    let mut per_part_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut candidates = Vec::new();
    for (idx, b) in &blocks {
        let n = per_part_index.entry(b.partition.clone()).or_default();
        if b.first_seq <= id && *idx < head.head.size {
            candidates.push((*idx, b.clone(), *n));
        }
        *n += 1;
    }
    // Latest first: the block holding `id` starts at or before it, and is usually the last such.
    // Each partition's blocks file is scanned and opened once, however many blocks are tried.
    let mut files: BTreeMap<String, (Vec<block::BlockMeta>, File)> = BTreeMap::new();
    for (idx, leaf, bi) in candidates.into_iter().rev() {
        let path = dir.join("parts").join(&leaf.partition).join("blocks.dat");
        if !files.contains_key(&leaf.partition) {
            let scan = block::scan(&path)?;
            let f = File::open(&path).map_err(crate::io(&path))?;
            files.insert(leaf.partition.clone(), (scan.blocks, f));
        }
        let Some((metas, f)) = files.get_mut(&leaf.partition) else {
            continue;
        };
        let Some(meta) = metas.get(bi) else {
            continue;
        };
        let data = block::read(f, &path, meta.offset, meta.len)?;
        let recs: Vec<&[u8]> = data.records().collect();
        let Some(pos) = recs
            .iter()
            .position(|r| crate::block::record_seq(r) == Some(id))
        else {
            continue;
        };
        let hashes: Vec<Hash> = recs.iter().map(|r| merkle::event_leaf(r)).collect();
        let pk = proof::to_hex(&store_public_key(dir)?);
        return proof::build_proof(
            recs[pos],
            &hashes,
            pos,
            &leaf,
            tree.leaves(),
            idx as usize,
            head,
            &pk,
        )
        .map_err(|e| StoreError::Corrupt(format!("event {id}: {e}")));
    }
    Err(StoreError::Corrupt(format!(
        "event {id}: not in the store (or not yet covered by a signed head)"
    )))
}
