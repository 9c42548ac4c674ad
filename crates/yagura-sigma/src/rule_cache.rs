//! A cache of rule files' YAML, keyed by the BLAKE3 hash of their text.
//!
//! Parsing YAML was half of loading every SigmaHQ folder (1.09 G of 2.04 G instructions,
//! callgrind; libyaml decodes its input one character at a time). The cache keeps each file's
//! documents as YAML values in MessagePack, which decode several times faster; the Sigma stage
//! ([`crate::rule::parse_documents`]) still runs on every load, so placeholders, modifiers and
//! regexes are checked exactly as without the cache. A changed file has a new hash and is parsed
//! again; a cache that cannot be read (missing, damaged, another format) is ignored.
//!
//! File format: [`MAGIC`], then entries of a 32-byte hash, a little-endian `u32` length and that
//! many bytes of MessagePack (the file's `Vec<Result<Value, String>>`), then the BLAKE3 hash of
//! all that. The final hash lets the cache be written without `fsync`: a file left half-written
//! by a crash does not check out and is ignored.

use rustc_hash::FxHashMap;
use serde_yaml::Value;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::rule::yaml_documents;

/// First bytes of a cache file; the trailing number is the format version (with the YAML
/// parser's version: another parser could read a text differently).
const MAGIC: &[u8] = b"yagura rule cache 1 serde_yaml 0.9\n";

/// The documents of one file, as [`yaml_documents`] gives them.
type Docs = Vec<Result<Value, String>>;

/// Cached YAML of rule files. Shared by the threads that load rules.
#[derive(Default)]
pub struct RuleCache {
    data: Vec<u8>,
    index: FxHashMap<[u8; 32], Entry>,
    fresh: Mutex<Vec<([u8; 32], Vec<u8>)>>,
    hits: AtomicUsize,
}

struct Entry {
    start: usize,
    end: usize,
    used: AtomicBool,
}

impl RuleCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cache stored at `path`; empty when the file is missing or not a readable cache.
    pub fn open(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(Self::from_bytes)
            .unwrap_or_default()
    }

    fn from_bytes(mut data: Vec<u8>) -> Option<Self> {
        let body = data.len().checked_sub(32)?;
        if blake3::hash(&data[..body]).as_bytes() != &data[body..] {
            return None;
        }
        data.truncate(body);
        let mut index = FxHashMap::default();
        let mut at = data.strip_prefix(MAGIC)?.as_ptr() as usize - data.as_ptr() as usize;
        while at < data.len() {
            let hash: [u8; 32] = data.get(at..at + 32)?.try_into().ok()?;
            let len: [u8; 4] = data.get(at + 32..at + 36)?.try_into().ok()?;
            let start = at + 36;
            let end = start.checked_add(u32::from_le_bytes(len) as usize)?;
            if end > data.len() {
                return None;
            }
            let used = AtomicBool::new(false);
            index.insert(hash, Entry { start, end, used });
            at = end;
        }
        Some(Self {
            data,
            index,
            ..Self::default()
        })
    }

    /// The YAML documents of `text`: from the cache when it holds them, else parsed (and kept
    /// for [`RuleCache::save`]).
    pub fn documents(&self, text: &str) -> Docs {
        let hash = *blake3::hash(text.as_bytes()).as_bytes();
        if let Some(e) = self.index.get(&hash) {
            if let Ok(docs) = rmp_serde::from_slice::<Docs>(&self.data[e.start..e.end]) {
                e.used.store(true, Ordering::Relaxed);
                self.hits.fetch_add(1, Ordering::Relaxed);
                return docs;
            }
        }
        let docs = yaml_documents(text);
        if cacheable(&docs) {
            if let Ok(bytes) = rmp_serde::to_vec(&docs) {
                if let Ok(mut fresh) = self.fresh.lock() {
                    fresh.push((hash, bytes));
                }
            }
        }
        docs
    }

    /// A file name for the cache of the rules loaded from `roots` (the same folders share one
    /// cache; other sets of folders get theirs).
    pub fn file_name(roots: &[&Path]) -> String {
        let mut h = blake3::Hasher::new();
        for root in roots {
            let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
            h.update(root.as_os_str().as_encoded_bytes());
            h.update(&[0]);
        }
        format!("rules-{}.bin", &h.finalize().to_hex()[..16])
    }

    /// Files served from the cache so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Files parsed (not in the cache) so far.
    pub fn misses(&self) -> usize {
        self.fresh.lock().map_or(0, |f| f.len())
    }

    /// Writes the entries used since [`RuleCache::open`] and the new ones to `path` (through a
    /// temporary file, renamed), so the cache holds exactly the files of this load, then
    /// removes the caches of other rule folders unused for 30 days. When the file already
    /// holds exactly that, only its modification time is updated. Returns whether it wrote.
    pub fn save(&self, path: &Path) -> std::io::Result<bool> {
        let fresh = self.fresh.lock().map_err(|_| std::io::ErrorKind::Other)?;
        let unused = self.index.values().any(|e| !e.used.load(Ordering::Relaxed));
        if fresh.is_empty() && !unused {
            // Still in use: keep it from looking stale to `prune`.
            if let Ok(f) = std::fs::File::options().write(true).open(path) {
                let _ = f.set_modified(std::time::SystemTime::now());
            }
            return Ok(false);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut out = Checksummed {
            out: std::io::BufWriter::new(std::fs::File::create(&tmp)?),
            hash: blake3::Hasher::new(),
        };
        out.write_all(MAGIC)?;
        let kept = self
            .index
            .iter()
            .filter(|(_, e)| e.used.load(Ordering::Relaxed))
            .map(|(h, e)| (h, &self.data[e.start..e.end]));
        for (hash, bytes) in kept.chain(fresh.iter().map(|(h, b)| (h, b.as_slice()))) {
            let len = u32::try_from(bytes.len()).map_err(|_| std::io::ErrorKind::InvalidData)?;
            out.write_all(hash)?;
            out.write_all(&len.to_le_bytes())?;
            out.write_all(bytes)?;
        }
        let hash = out.hash.finalize();
        out.out.write_all(hash.as_bytes())?;
        out.out.flush()?;
        drop(out);
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            prune(dir, path);
        }
        Ok(true)
    }
}

/// Caches of other rule folders unused for this long are removed when a cache is written.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Removes the stale caches of `dir` other than `keep` (best effort).
fn prune(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours = name.starts_with("rules-") && name.ends_with(".bin");
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if ours && stale && p != keep {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A writer that hashes what it writes.
struct Checksummed<W> {
    out: W,
    hash: blake3::Hasher,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl std::fmt::Debug for RuleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleCache")
            .field("entries", &self.index.len())
            .field("hits", &self.hits())
            .field("misses", &self.misses())
            .finish()
    }
}

/// False when MessagePack would not give the documents back as they are: a YAML tag (`!x`)
/// comes back as a one-entry mapping. Such files are parsed on every load.
fn cacheable(docs: &Docs) -> bool {
    fn plain(v: &Value) -> bool {
        match v {
            Value::Tagged(_) => false,
            Value::Sequence(items) => items.iter().all(plain),
            Value::Mapping(m) => m.iter().all(|(k, v)| plain(k) && plain(v)),
            _ => true,
        }
    }
    docs.iter().all(|d| d.as_ref().map_or(true, plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "title: t\nid: 1\nlogsource: {product: windows}\n\
        detection:\n  sel:\n    EventID: [4688, -1, 1.5, true, null, '0x10']\n  condition: sel\n";

    #[test]
    fn a_saved_cache_gives_the_same_documents_and_counts_hits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/rules.bin");
        let cold = RuleCache::open(&path);
        let parsed = cold.documents(RULE);
        assert_eq!(parsed, yaml_documents(RULE));
        assert_eq!((cold.hits(), cold.misses()), (0, 1));
        assert!(cold.save(&path).unwrap());

        let warm = RuleCache::open(&path);
        assert_eq!(warm.documents(RULE), parsed);
        assert_eq!((warm.hits(), warm.misses()), (1, 0));
        // Nothing new and nothing unused: no write.
        assert!(!warm.save(&path).unwrap());
        // A changed text misses; saving drops the entry this load did not use.
        let other = RULE.replace("4688", "4624");
        let next = RuleCache::open(&path);
        next.documents(&other);
        assert_eq!((next.hits(), next.misses()), (0, 1));
        assert!(next.save(&path).unwrap());
        assert_eq!(RuleCache::open(&path).index.len(), 1);
    }

    #[test]
    fn syntax_errors_and_tags_round_trip_or_are_not_cached() {
        let cache = RuleCache::new();
        let bad = "title: a\n---\nkey: [unclosed\n";
        assert_eq!(cache.documents(bad), yaml_documents(bad));
        assert!(matches!(cache.documents(bad).last(), Some(Err(_))));
        let tagged = "title: !custom x\n";
        assert_eq!(cache.documents(tagged), yaml_documents(tagged));
        assert_eq!(cache.misses(), 2, "the tagged file is not kept");
    }

    #[test]
    fn damaged_caches_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.bin");
        let cache = RuleCache::new();
        cache.documents(RULE);
        cache.save(&path).unwrap();
        let whole = std::fs::read(&path).unwrap();
        for cut in [1, MAGIC.len() + 10, whole.len() - 1] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            assert_eq!(RuleCache::open(&path).index.len(), 0, "cut at {cut}");
        }
        // One byte changed: the checksum does not hold.
        let mut flipped = whole.clone();
        flipped[MAGIC.len() + 40] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert_eq!(RuleCache::open(&path).index.len(), 0);
        // Right framing and checksum, content that is not the documents: parsed again.
        let mut garbled = whole[..whole.len() - 32].to_vec();
        let n = garbled.len();
        garbled[n - 5..].fill(0xc1);
        let sum = *blake3::hash(&garbled).as_bytes();
        garbled.extend_from_slice(&sum);
        std::fs::write(&path, &garbled).unwrap();
        let cache = RuleCache::open(&path);
        assert_eq!(cache.index.len(), 1);
        assert_eq!(cache.documents(RULE), yaml_documents(RULE));
        assert_eq!(cache.misses(), 1);
    }
}
