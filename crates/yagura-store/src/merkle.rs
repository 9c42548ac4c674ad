//! Merkle trees for tamper evidence, in the manner of RFC 9162 (Certificate
//! Transparency v2) §2.1, with BLAKE3-256 as the hash function.
//!
//! * `leaf_hash(d)    = BLAKE3(0x00 || d)`
//! * `node_hash(l, r) = BLAKE3(0x01 || l || r)`
//! * `MTH({})         = BLAKE3("")`
//! * `MTH(D[n])       = node_hash(MTH(D[0:k]), MTH(D[k:n]))`, `k` the largest
//!   power of two smaller than `n`.
//!
//! The store commits events in blocks. Inside a block each stored record is a
//! leaf (`event_leaf`), and the block's `events_root` is `root()` over them.
//! Each block (and each retention deletion) is one [`Leaf`] of the global,
//! append-only [`Tree`]. The binary layout of [`Leaf::encode`] is documented on
//! that function and in `docs/integrity.md`.

use thiserror::Error;

/// A BLAKE3-256 digest.
pub type Hash = [u8; 32];

/// Domain-separation prefix of a leaf hash (RFC 9162 §2.1.1).
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash (RFC 9162 §2.1.1).
pub const NODE_PREFIX: u8 = 0x01;
/// Magic and version prefix of every encoded [`Leaf`].
pub const LEAF_MAGIC: &[u8] = b"yagura-leaf-v1";
/// Kind byte of a [`Leaf::Block`].
pub const KIND_BLOCK: u8 = 1;
/// Kind byte of a [`Leaf::Deletion`].
pub const KIND_DELETION: u8 = 2;

/// Why an encoded leaf could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MerkleError {
    /// The input does not start with `yagura-leaf-v1`.
    #[error("leaf does not start with the magic prefix \"yagura-leaf-v1\"")]
    BadMagic,
    /// The kind byte is neither 1 (block) nor 2 (deletion).
    #[error("unknown leaf kind byte {0}")]
    UnknownKind(u8),
    /// The input ended inside the named field.
    #[error("leaf truncated while reading {0}")]
    Truncated(&'static str),
    /// A string field is not UTF-8.
    #[error("field {0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// Bytes remain after a complete leaf.
    #[error("{0} trailing bytes after the leaf")]
    TrailingBytes(usize),
    /// A field is too long for its u32 length prefix.
    #[error("field {0} is too long to encode")]
    TooLong(&'static str),
}

/// BLAKE3-256 of `data`.
pub fn hash(data: &[u8]) -> Hash {
    *blake3::hash(data).as_bytes()
}

/// `BLAKE3(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[LEAF_PREFIX]);
    h.update(data);
    *h.finalize().as_bytes()
}

/// `BLAKE3(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[NODE_PREFIX]);
    h.update(left);
    h.update(right);
    *h.finalize().as_bytes()
}

/// Root of the empty tree: `BLAKE3("")`.
pub fn empty_root() -> Hash {
    hash(b"")
}

/// Leaf hash of one stored event record inside a block.
pub fn event_leaf(record: &[u8]) -> Hash {
    leaf_hash(record)
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1usize;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// Compact stack of the roots of full subtrees, left to right, with their
/// sizes (each a power of two, strictly decreasing).
#[derive(Debug, Clone, Default)]
struct Frontier {
    stack: Vec<(u64, Hash)>,
}

impl Frontier {
    fn push(&mut self, leaf: Hash) {
        let mut cur = (1u64, leaf);
        while let Some(&(size, h)) = self.stack.last() {
            if size != cur.0 {
                break;
            }
            self.stack.pop();
            cur = (size * 2, node_hash(&h, &cur.1));
        }
        self.stack.push(cur);
    }

    fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some(&(_, last)) => iter.fold(last, |acc, (_, h)| node_hash(h, &acc)),
        }
    }
}

/// Merkle tree hash (MTH) of already leaf-hashed `leaves`, in O(n).
pub fn root(leaves: &[Hash]) -> Hash {
    let mut f = Frontier::default();
    for l in leaves {
        f.push(*l);
    }
    f.root()
}

/// Audit path `PATH(index, D[n])` of RFC 9162 §2.1.3.1, leaf-side first.
///
/// Returns an empty path when `index >= leaves.len()` (no proof exists).
pub fn inclusion_path(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let mut path = Vec::new();
    if index < leaves.len() {
        path_rec(leaves, index, &mut path);
    }
    path
}

fn path_rec(d: &[Hash], m: usize, out: &mut Vec<Hash>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path_rec(&d[..k], m, out);
        out.push(root(&d[k..]));
    } else {
        path_rec(&d[k..], m - k, out);
        out.push(root(&d[..k]));
    }
}

/// Verify an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Consistency proof `PROOF(old_size, D[n])` of RFC 9162 §2.1.4.1.
///
/// Empty when `old_size == 0`, `old_size >= leaves.len()`.
pub fn consistency_path(leaves: &[Hash], old_size: usize) -> Vec<Hash> {
    let mut out = Vec::new();
    if old_size > 0 && old_size < leaves.len() {
        subproof(old_size, leaves, true, &mut out);
    }
    out
}

fn subproof(m: usize, d: &[Hash], b: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !b {
            out.push(root(d));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, &d[..k], b, out);
        out.push(root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root(&d[..k]));
    }
}

/// Verify a consistency proof (RFC 9162 §2.1.4.2).
///
/// Edge cases outside the RFC algorithm: `old_size == new_size` holds iff the
/// path is empty and the roots are equal; `old_size == 0` holds iff the path
/// is empty and `old_root` is the empty-tree root.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    path: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return path.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return path.is_empty() && *old_root == empty_root();
    }
    if path.is_empty() {
        return false;
    }
    let mut start = 0;
    let seed = if old_size.is_power_of_two() {
        *old_root
    } else {
        start = 1;
        path[0]
    };
    let mut fnode = old_size - 1;
    let mut snode = new_size - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = seed;
    let mut sr = seed;
    for c in &path[start..] {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *old_root && sr == *new_root && snode == 0
}

/// An append-only Merkle tree over leaf hashes.
///
/// Keeps every leaf (for proofs) and the compact stack of full-subtree roots,
/// so that [`Tree::root`] costs O(log n) after each push.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    leaves: Vec<Hash>,
    frontier: Frontier,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Append one (already leaf-hashed) leaf.
    pub fn push(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
        self.frontier.push(leaf);
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// True when the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Current root, O(log n).
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Root of the tree as it was at `size` leaves, O(size); `None` if
    /// `size > len()`.
    pub fn root_at(&self, size: usize) -> Option<Hash> {
        self.leaves.get(..size).map(root)
    }

    /// All leaf hashes, in order.
    pub fn leaves(&self) -> &[Hash] {
        &self.leaves
    }

    /// Inclusion path of leaf `index` in the current tree.
    pub fn inclusion_path(&self, index: usize) -> Vec<Hash> {
        inclusion_path(&self.leaves, index)
    }

    /// Consistency path from the tree at `old_size` to the current tree.
    pub fn consistency_path(&self, old_size: usize) -> Vec<Hash> {
        consistency_path(&self.leaves, old_size)
    }
}

/// One committed block of events: a leaf of the global tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockLeaf {
    /// Time partition the block belongs to.
    pub partition: String,
    /// Sequence number of the block's first event.
    pub first_seq: u64,
    /// Number of events in the block.
    pub count: u32,
    /// Smallest event timestamp in the block (ms since the Unix epoch).
    pub min_ts_ms: i64,
    /// Largest event timestamp in the block (ms since the Unix epoch).
    pub max_ts_ms: i64,
    /// BLAKE3 of the block's stored payload bytes.
    pub payload_hash: Hash,
    /// `root()` over `event_leaf(record)` of the block's records, in order.
    pub events_root: Hash,
}

/// A retention deletion: a signed leaf of the global tree, not a hole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionLeaf {
    /// Partition the deleted blocks belonged to.
    pub partition: String,
    /// Indices, in the global tree, of the block leaves deleted.
    pub leaf_indices: Vec<u64>,
    /// Number of events deleted.
    pub events: u64,
    /// Why (e.g. the retention policy that applied).
    pub reason: String,
    /// When the deletion happened (ms since the Unix epoch).
    pub at_ms: i64,
}

/// A leaf of the global tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    /// A committed block of events (kind 1).
    Block(BlockLeaf),
    /// A retention deletion (kind 2).
    Deletion(DeletionLeaf),
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Strings longer than u32::MAX bytes cannot be encoded; `try_encode`
    // reports them, `encode` saturates (such a leaf can never be built by
    // the store, whose partitions and reasons are short).
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..len as usize]);
}

impl Leaf {
    /// Canonical binary encoding (all integers big-endian):
    ///
    /// ```text
    /// "yagura-leaf-v1" (14 bytes) | kind u8
    /// kind 1, block:    partition str | first_seq u64 | count u32
    ///                   | min_ts_ms i64 | max_ts_ms i64
    ///                   | payload_hash [32] | events_root [32]
    /// kind 2, deletion: partition str | n u32 | n x leaf_index u64
    ///                   | events u64 | reason str | at_ms i64
    /// str = length u32 | UTF-8 bytes
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(LEAF_MAGIC);
        match self {
            Leaf::Block(b) => {
                out.push(KIND_BLOCK);
                put_str(&mut out, &b.partition);
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.count.to_be_bytes());
                out.extend_from_slice(&b.min_ts_ms.to_be_bytes());
                out.extend_from_slice(&b.max_ts_ms.to_be_bytes());
                out.extend_from_slice(&b.payload_hash);
                out.extend_from_slice(&b.events_root);
            }
            Leaf::Deletion(d) => {
                out.push(KIND_DELETION);
                put_str(&mut out, &d.partition);
                let n = u32::try_from(d.leaf_indices.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&n.to_be_bytes());
                for i in d.leaf_indices.iter().take(n as usize) {
                    out.extend_from_slice(&i.to_be_bytes());
                }
                out.extend_from_slice(&d.events.to_be_bytes());
                put_str(&mut out, &d.reason);
                out.extend_from_slice(&d.at_ms.to_be_bytes());
            }
        }
        out
    }

    /// Like [`Leaf::encode`], but refuses fields too long for a u32 length
    /// instead of truncating them.
    pub fn try_encode(&self) -> Result<Vec<u8>, MerkleError> {
        let fits = |n: usize| u32::try_from(n).is_ok();
        match self {
            Leaf::Block(b) if !fits(b.partition.len()) => Err(MerkleError::TooLong("partition")),
            Leaf::Deletion(d) if !fits(d.partition.len()) => Err(MerkleError::TooLong("partition")),
            Leaf::Deletion(d) if !fits(d.leaf_indices.len()) => {
                Err(MerkleError::TooLong("leaf_indices"))
            }
            Leaf::Deletion(d) if !fits(d.reason.len()) => Err(MerkleError::TooLong("reason")),
            _ => Ok(self.encode()),
        }
    }

    /// Decode the canonical encoding. Rejects anything else, including
    /// trailing bytes; never panics.
    pub fn decode(bytes: &[u8]) -> Result<Leaf, MerkleError> {
        let mut r = Reader { buf: bytes };
        if r.take(LEAF_MAGIC.len(), "magic").ok() != Some(LEAF_MAGIC) {
            return Err(MerkleError::BadMagic);
        }
        let kind = r.u8("kind")?;
        let leaf = match kind {
            KIND_BLOCK => Leaf::Block(BlockLeaf {
                partition: r.string("partition")?,
                first_seq: r.u64("first_seq")?,
                count: r.u32("count")?,
                min_ts_ms: r.i64("min_ts_ms")?,
                max_ts_ms: r.i64("max_ts_ms")?,
                payload_hash: r.hash("payload_hash")?,
                events_root: r.hash("events_root")?,
            }),
            KIND_DELETION => {
                let partition = r.string("partition")?;
                let n = r.u32("leaf_indices")? as usize;
                if r.buf.len() / 8 < n {
                    return Err(MerkleError::Truncated("leaf_indices"));
                }
                let mut leaf_indices = Vec::with_capacity(n);
                for _ in 0..n {
                    leaf_indices.push(r.u64("leaf_indices")?);
                }
                Leaf::Deletion(DeletionLeaf {
                    partition,
                    leaf_indices,
                    events: r.u64("events")?,
                    reason: r.string("reason")?,
                    at_ms: r.i64("at_ms")?,
                })
            }
            other => return Err(MerkleError::UnknownKind(other)),
        };
        if !r.buf.is_empty() {
            return Err(MerkleError::TrailingBytes(r.buf.len()));
        }
        Ok(leaf)
    }

    /// `leaf_hash(encode())`: this leaf's hash in the global tree.
    pub fn hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], MerkleError> {
        if self.buf.len() < n {
            return Err(MerkleError::Truncated(field));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], MerkleError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, field)?);
        Ok(a)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, MerkleError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, MerkleError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, MerkleError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, MerkleError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    fn hash(&mut self, field: &'static str) -> Result<Hash, MerkleError> {
        self.array(field)
    }

    fn string(&mut self, field: &'static str) -> Result<String, MerkleError> {
        let len = self.u32(field)? as usize;
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| MerkleError::InvalidUtf8(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => blake3::hash(b"").into(),
            1 => d[0],
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&naive_mth(&d[..k]), &naive_mth(&d[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
            .collect()
    }

    fn flip(h: &Hash, byte: usize) -> Hash {
        let mut x = *h;
        x[byte % 32] ^= 0x01;
        x
    }

    #[test]
    fn leaf_hash_known_answer() {
        let mut h = blake3::Hasher::new();
        h.update(&[0x00]);
        let expected: [u8; 32] = h.finalize().into();
        assert_eq!(leaf_hash(b""), expected);
        assert_eq!(leaf_hash(b""), *blake3::hash(&[0u8]).as_bytes());
        let mut n = vec![0x01u8];
        n.extend_from_slice(&[7u8; 32]);
        n.extend_from_slice(&[9u8; 32]);
        assert_eq!(node_hash(&[7; 32], &[9; 32]), *blake3::hash(&n).as_bytes());
        assert_eq!(empty_root(), *blake3::hash(b"").as_bytes());
        assert_eq!(event_leaf(b"abc"), leaf_hash(b"abc"));
    }

    #[test]
    fn tree_roots_match_naive_mth() {
        let all = leaves(70);
        let mut t = Tree::new();
        assert_eq!(t.root(), naive_mth(&[]));
        assert!(t.is_empty());
        for n in 1..=70 {
            t.push(all[n - 1]);
            assert_eq!(t.len(), n);
            let expected = naive_mth(&all[..n]);
            assert_eq!(t.root(), expected, "n={n}");
            assert_eq!(root(&all[..n]), expected, "n={n}");
        }
        for n in 0..=70 {
            assert_eq!(t.root_at(n), Some(naive_mth(&all[..n])), "n={n}");
        }
        assert_eq!(t.root_at(71), None);
        assert_eq!(t.leaves(), &all[..]);
    }

    #[test]
    fn inclusion_paths_verify_and_detect_tampering() {
        let all = leaves(40);
        for n in 1..=40usize {
            let d = &all[..n];
            let r = root(d);
            for m in 0..n {
                let p = inclusion_path(d, m);
                let (mu, nu) = (m as u64, n as u64);
                assert!(verify_inclusion(&d[m], mu, nu, &p, &r), "n={n} m={m}");
                assert!(!verify_inclusion(&flip(&d[m], 3), mu, nu, &p, &r));
                assert!(!verify_inclusion(&d[m], mu, nu, &p, &flip(&r, 0)));
                if n > 1 {
                    assert!(!verify_inclusion(&d[m], (mu + 1) % nu, nu, &p, &r));
                }
                assert!(!verify_inclusion(&d[m], nu, nu, &p, &r));
                for i in 0..p.len() {
                    for byte in [0usize, 17, 31] {
                        let mut q = p.clone();
                        q[i] = flip(&q[i], byte);
                        assert!(!verify_inclusion(&d[m], mu, nu, &q, &r));
                    }
                }
                let mut longer = p.clone();
                longer.push(d[0]);
                assert!(!verify_inclusion(&d[m], mu, nu, &longer, &r));
                if !p.is_empty() {
                    assert!(!verify_inclusion(&d[m], mu, nu, &p[..p.len() - 1], &r));
                }
            }
            assert!(inclusion_path(d, n).is_empty());
        }
    }

    #[test]
    fn consistency_paths_verify_and_detect_tampering() {
        let all = leaves(40);
        for n in 1..=40usize {
            let new_root = root(&all[..n]);
            for m in 1..=n {
                let old_root = root(&all[..m]);
                let p = consistency_path(&all[..n], m);
                let (mu, nu) = (m as u64, n as u64);
                assert!(
                    verify_consistency(mu, nu, &old_root, &new_root, &p),
                    "m={m} n={n}"
                );
                assert!(!verify_consistency(
                    mu,
                    nu,
                    &flip(&old_root, 5),
                    &new_root,
                    &p
                ));
                assert!(!verify_consistency(
                    mu,
                    nu,
                    &old_root,
                    &flip(&new_root, 5),
                    &p
                ));
                if m < n {
                    assert!(!verify_consistency(nu, mu, &new_root, &old_root, &p));
                }
                for i in 0..p.len() {
                    for byte in [0usize, 31] {
                        let mut q = p.clone();
                        q[i] = flip(&q[i], byte);
                        assert!(!verify_consistency(mu, nu, &old_root, &new_root, &q));
                    }
                }
                let mut longer = p.clone();
                longer.push(all[0]);
                assert!(!verify_consistency(mu, nu, &old_root, &new_root, &longer));
                if !p.is_empty() {
                    let shorter = &p[..p.len() - 1];
                    assert!(!verify_consistency(mu, nu, &old_root, &new_root, shorter));
                }
            }
        }
        assert!(verify_consistency(
            0,
            5,
            &empty_root(),
            &root(&all[..5]),
            &[]
        ));
        assert!(!verify_consistency(0, 5, &all[0], &root(&all[..5]), &[]));
    }

    #[test]
    fn tree_helpers_match_free_functions() {
        let mut t = Tree::new();
        for l in leaves(13) {
            t.push(l);
        }
        assert_eq!(t.inclusion_path(5), inclusion_path(t.leaves(), 5));
        assert_eq!(t.consistency_path(6), consistency_path(t.leaves(), 6));
    }

    fn sample_block() -> Leaf {
        Leaf::Block(BlockLeaf {
            partition: "2026-12-02/auth".into(),
            first_seq: 123_456,
            count: 4096,
            min_ts_ms: -5,
            max_ts_ms: 1_700_000_000_000,
            payload_hash: [0xAB; 32],
            events_root: [0xCD; 32],
        })
    }

    fn sample_deletion() -> Leaf {
        Leaf::Deletion(DeletionLeaf {
            partition: "2026-01-01/fw".into(),
            leaf_indices: vec![1, 2, 3, u64::MAX],
            events: 9000,
            reason: "retention: 90 days".into(),
            at_ms: 1_700_000_000_001,
        })
    }

    #[test]
    fn leaf_encoding_round_trips_and_is_documented_layout() {
        for leaf in [sample_block(), sample_deletion()] {
            let enc = leaf.encode();
            assert_eq!(Leaf::decode(&enc), Ok(leaf.clone()));
            assert_eq!(leaf.try_encode(), Ok(enc.clone()));
            assert_eq!(leaf.hash(), leaf_hash(&enc));
        }
        let enc = sample_block().encode();
        assert_eq!(&enc[..14], b"yagura-leaf-v1");
        assert_eq!(enc[14], 1);
        assert_eq!(&enc[15..19], &15u32.to_be_bytes());
        assert_eq!(&enc[19..34], b"2026-12-02/auth");
        assert_eq!(&enc[34..42], &123_456u64.to_be_bytes());
        assert_eq!(&enc[42..46], &4096u32.to_be_bytes());
        assert_eq!(&enc[46..54], &(-5i64).to_be_bytes());
        assert_eq!(enc.len(), 14 + 1 + 4 + 15 + 8 + 4 + 8 + 8 + 32 + 32);
        let del = sample_deletion().encode();
        assert_eq!(del[14], 2);
        assert_eq!(del.len(), 14 + 1 + 4 + 13 + 4 + 4 * 8 + 8 + 4 + 18 + 8);
    }

    #[test]
    fn decode_rejects_malformed_input_with_specific_errors() {
        let enc = sample_block().encode();
        let mut bad = enc.clone();
        bad[0] = b'X';
        assert_eq!(Leaf::decode(&bad), Err(MerkleError::BadMagic));
        let mut bad = enc.clone();
        bad[14] = 9;
        assert_eq!(Leaf::decode(&bad), Err(MerkleError::UnknownKind(9)));
        let mut bad = enc.clone();
        bad.push(0);
        assert_eq!(Leaf::decode(&bad), Err(MerkleError::TrailingBytes(1)));
        assert_eq!(
            Leaf::decode(&enc[..enc.len() - 1]),
            Err(MerkleError::Truncated("events_root"))
        );
        let mut bad = enc.clone();
        bad[19] = 0xFF;
        assert_eq!(
            Leaf::decode(&bad),
            Err(MerkleError::InvalidUtf8("partition"))
        );
        assert_eq!(Leaf::decode(b""), Err(MerkleError::BadMagic));
        // A huge declared count must not allocate or panic.
        let mut bad = LEAF_MAGIC.to_vec();
        bad.push(KIND_DELETION);
        bad.extend_from_slice(&0u32.to_be_bytes());
        bad.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            Leaf::decode(&bad),
            Err(MerkleError::Truncated("leaf_indices"))
        );
    }

    #[test]
    fn decode_never_panics_on_truncations_and_flips() {
        for leaf in [sample_block(), sample_deletion()] {
            let enc = leaf.encode();
            for len in 0..enc.len() {
                assert!(Leaf::decode(&enc[..len]).is_err(), "len={len}");
            }
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            for i in 0..enc.len() {
                for bit in 0..8 {
                    let mut x = enc.clone();
                    x[i] ^= 1 << bit;
                    // Must return, Ok or Err; if Ok it must be a different leaf.
                    if let Ok(other) = Leaf::decode(&x) {
                        assert_ne!(other, leaf);
                        assert_eq!(other.encode(), x);
                    }
                }
            }
            for _ in 0..5000 {
                let mut x = enc.clone();
                for _ in 0..4 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let pos = (state % x.len() as u64) as usize;
                    x[pos] = (state >> 32) as u8;
                }
                let cut = (state >> 40) as usize % (x.len() + 1);
                let _ = Leaf::decode(&x);
                let _ = Leaf::decode(&x[..cut]);
            }
        }
    }
}
