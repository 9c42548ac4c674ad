//! Signed tree heads and self-contained inclusion proofs for one event.
//!
//! A tree head `(size, root, timestamp_ms)` of the global Merkle tree
//! ([`crate::merkle`]) is signed with the installation's ed25519 key. A
//! [`Proof`] carries everything a third party needs, besides the public key,
//! to check that one stored record is in a block that is a leaf of a signed
//! tree. The layouts are documented in `docs/integrity.md`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::merkle::{self, BlockLeaf, Hash, Leaf, MerkleError};

/// Domain-separation prefix of the signed tree-head message.
pub const TREE_HEAD_CONTEXT: &[u8] = b"yagura-tree-head-v1\n";
/// The `format` string of a [`Proof`].
pub const PROOF_FORMAT: &str = "yagura-proof-v1";
/// Size of [`SignedTreeHead::encode`]: size 8 + timestamp 8 + root 32 + signature 64.
pub const SIGNED_TREE_HEAD_LEN: usize = 112;
/// File name of the hex-encoded 32-byte private seed.
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// File name of the hex-encoded 32-byte public key.
pub const PUBLIC_KEY_FILE: &str = "signing.pub";

/// Errors of key handling, proof building and proof verification.
#[derive(Debug, Error)]
pub enum ProofError {
    /// Reading or writing a key file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A key file has the wrong content.
    #[error("key file {path} is malformed: {reason}")]
    BadKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The OS random source failed.
    #[error("could not get random bytes for a new key: {0}")]
    Random(String),
    /// A hex field does not decode.
    #[error("invalid hex in {0}")]
    BadHex(&'static str),
    /// A signed tree head record is not 112 bytes.
    #[error("signed tree head record must be {SIGNED_TREE_HEAD_LEN} bytes, got {0}")]
    BadHeadLength(usize),
    /// The proof JSON does not parse (or has a malformed hex value or an unknown field).
    #[error("proof JSON is malformed: {0}")]
    Json(#[from] serde_json::Error),
    /// `build_proof` was given inconsistent inputs.
    #[error("cannot build proof: {0}")]
    InvalidInput(&'static str),
    /// Verification step 1: `format` is not `yagura-proof-v1`.
    #[error("unknown proof format {0:?} (expected \"yagura-proof-v1\")")]
    Format(String),
    /// Verification step 2: `leaf` is not a valid leaf encoding.
    #[error("proof leaf does not decode: {0}")]
    LeafDecode(#[from] MerkleError),
    /// Verification step 2: `leaf` is a deletion leaf.
    #[error("proof leaf is not a block leaf")]
    NotABlock,
    /// Verification step 2: `block_events` differs from the leaf's `count`.
    #[error("block_events {block_events} does not match the block leaf count {count}")]
    BlockEventsMismatch {
        /// `block_events` of the proof.
        block_events: u64,
        /// `count` of the block leaf.
        count: u32,
    },
    /// Verification step 2: the record does not climb to `events_root`.
    #[error("record and event_path do not lead to the block's events_root")]
    EventPathInvalid,
    /// Verification step 3: `tree_size` differs from `tree_head.size`.
    #[error("tree_size {tree_size} differs from tree_head.size {head_size}")]
    TreeSizeMismatch {
        /// `tree_size` of the proof.
        tree_size: u64,
        /// `tree_head.size` of the proof.
        head_size: u64,
    },
    /// Verification step 3: the leaf does not climb to `tree_head.root`.
    #[error("leaf and tree_path do not lead to tree_head.root")]
    TreePathInvalid,
    /// Verification step 4: the signature is not valid for the given key.
    #[error("tree head signature is not valid for the given public key")]
    SignatureInvalid,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ProofError + '_ {
    move |source| ProofError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Decode hex (either case); `None` on odd length or a non-hex digit.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// Decode hex of exactly `N` bytes.
pub fn from_hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    from_hex(s)?.try_into().ok()
}

/// An unsigned tree head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of leaves of the tree.
    pub size: u64,
    /// Its root (MTH).
    pub root: Hash,
    /// When the head was made (ms since the Unix epoch).
    pub timestamp_ms: i64,
}

impl TreeHead {
    /// The signed message: `"yagura-tree-head-v1\n" || size u64 BE ||
    /// timestamp_ms i64 BE || root (32 bytes)`, 68 bytes.
    pub fn message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(TREE_HEAD_CONTEXT.len() + 48);
        m.extend_from_slice(TREE_HEAD_CONTEXT);
        m.extend_from_slice(&self.size.to_be_bytes());
        m.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        m.extend_from_slice(&self.root);
        m
    }
}

/// A tree head with its ed25519 signature over [`TreeHead::message`].
///
/// JSON form: `{"size": u64, "timestamp_ms": i64, "root": hex, "signature": hex}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SignedTreeHeadJson", into = "SignedTreeHeadJson")]
pub struct SignedTreeHead {
    /// The head.
    pub head: TreeHead,
    /// ed25519 signature of `head.message()`.
    pub signature: [u8; 64],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedTreeHeadJson {
    size: u64,
    timestamp_ms: i64,
    root: String,
    signature: String,
}

impl From<SignedTreeHead> for SignedTreeHeadJson {
    fn from(s: SignedTreeHead) -> Self {
        SignedTreeHeadJson {
            size: s.head.size,
            timestamp_ms: s.head.timestamp_ms,
            root: to_hex(&s.head.root),
            signature: to_hex(&s.signature),
        }
    }
}

impl TryFrom<SignedTreeHeadJson> for SignedTreeHead {
    type Error = ProofError;
    fn try_from(j: SignedTreeHeadJson) -> Result<Self, ProofError> {
        Ok(SignedTreeHead {
            head: TreeHead {
                size: j.size,
                timestamp_ms: j.timestamp_ms,
                root: from_hex_array(&j.root).ok_or(ProofError::BadHex("tree_head.root"))?,
            },
            signature: from_hex_array(&j.signature)
                .ok_or(ProofError::BadHex("tree_head.signature"))?,
        })
    }
}

impl SignedTreeHead {
    /// True when `signature` is a valid (strict) ed25519 signature of the
    /// head's message under `public_key`.
    pub fn verify(&self, public_key: &[u8; 32]) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(public_key) else {
            return false;
        };
        let sig = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.head.message(), &sig).is_ok()
    }

    /// Fixed 112-byte record: size u64 BE | timestamp_ms i64 BE | root [32]
    /// | signature [64]. A heads file is a plain sequence of such records.
    pub fn encode(&self) -> [u8; SIGNED_TREE_HEAD_LEN] {
        let mut out = [0u8; SIGNED_TREE_HEAD_LEN];
        out[0..8].copy_from_slice(&self.head.size.to_be_bytes());
        out[8..16].copy_from_slice(&self.head.timestamp_ms.to_be_bytes());
        out[16..48].copy_from_slice(&self.head.root);
        out[48..112].copy_from_slice(&self.signature);
        out
    }

    /// Decode one 112-byte record (exactly; anything else is an error).
    pub fn decode(bytes: &[u8]) -> Result<SignedTreeHead, ProofError> {
        let rec: &[u8; SIGNED_TREE_HEAD_LEN] = bytes
            .try_into()
            .map_err(|_| ProofError::BadHeadLength(bytes.len()))?;
        let mut size = [0u8; 8];
        let mut ts = [0u8; 8];
        let mut root = [0u8; 32];
        let mut signature = [0u8; 64];
        size.copy_from_slice(&rec[0..8]);
        ts.copy_from_slice(&rec[8..16]);
        root.copy_from_slice(&rec[16..48]);
        signature.copy_from_slice(&rec[48..112]);
        Ok(SignedTreeHead {
            head: TreeHead {
                size: u64::from_be_bytes(size),
                timestamp_ms: i64::from_be_bytes(ts),
                root,
            },
            signature,
        })
    }
}

/// The installation's tree-head signing key.
pub struct Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from a 32-byte ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Signer {
        Signer {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Load `dir/signing.key` (hex seed), or create it (mode 0600 on unix)
    /// from fresh random bytes, with `dir/signing.pub` (hex public key).
    /// An existing `signing.pub` that does not match the key is an error;
    /// a missing one is rewritten.
    pub fn load_or_create(dir: &Path) -> Result<Signer, ProofError> {
        let key_path = dir.join(SIGNING_KEY_FILE);
        let pub_path = dir.join(PUBLIC_KEY_FILE);
        let signer = if key_path.exists() {
            let text = fs::read_to_string(&key_path).map_err(io_err(&key_path))?;
            let seed: [u8; 32] =
                from_hex_array(text.trim()).ok_or_else(|| ProofError::BadKeyFile {
                    path: key_path.clone(),
                    reason: "expected 64 hex digits (a 32-byte seed)".into(),
                })?;
            Signer::from_seed(&seed)
        } else {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| ProofError::Random(e.to_string()))?;
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&key_path).map_err(io_err(&key_path))?;
            f.write_all(format!("{}\n", to_hex(&seed)).as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(io_err(&key_path))?;
            Signer::from_seed(&seed)
        };
        let pub_hex = signer.public_key_hex();
        if pub_path.exists() {
            let text = fs::read_to_string(&pub_path).map_err(io_err(&pub_path))?;
            if !text.trim().eq_ignore_ascii_case(&pub_hex) {
                return Err(ProofError::BadKeyFile {
                    path: pub_path,
                    reason: "public key does not match signing.key".into(),
                });
            }
        } else {
            fs::write(&pub_path, format!("{pub_hex}\n")).map_err(io_err(&pub_path))?;
        }
        Ok(signer)
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The public key as lower-case hex.
    pub fn public_key_hex(&self) -> String {
        to_hex(&self.public_key())
    }

    /// Sign a tree head.
    pub fn sign_head(&self, head: &TreeHead) -> SignedTreeHead {
        SignedTreeHead {
            head: *head,
            signature: self.key.sign(&head.message()).to_bytes(),
        }
    }
}

mod hex_serde {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub mod bytes {
        use super::*;
        pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&crate::proof::to_hex(v))
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            let s = String::deserialize(d)?;
            crate::proof::from_hex(&s).ok_or_else(|| D::Error::custom("invalid hex"))
        }
    }

    pub mod hashes {
        use super::*;
        use crate::merkle::Hash;
        use serde::ser::SerializeSeq;
        pub fn serialize<S: Serializer>(v: &[Hash], s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(v.len()))?;
            for h in v {
                seq.serialize_element(&crate::proof::to_hex(h))?;
            }
            seq.end()
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|s| {
                    crate::proof::from_hex_array(s)
                        .ok_or_else(|| D::Error::custom("expected 64 hex digits"))
                })
                .collect()
        }
    }
}

/// Inclusion proof for one event (JSON, see `docs/integrity.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Always `"yagura-proof-v1"`.
    pub format: String,
    /// The stored record bytes, as UTF-8.
    pub record: String,
    /// Position of the record in its block.
    pub event_index: u64,
    /// Number of records in the block (= the block leaf's `count`).
    pub block_events: u64,
    /// Inclusion path of the record in the block's event tree.
    #[serde(with = "hex_serde::hashes")]
    pub event_path: Vec<Hash>,
    /// `Leaf::encode()` of the block leaf.
    #[serde(with = "hex_serde::bytes")]
    pub leaf: Vec<u8>,
    /// Position of the block leaf in the global tree.
    pub leaf_index: u64,
    /// Size of the global tree the proof is against.
    pub tree_size: u64,
    /// Inclusion path of the block leaf in the global tree of `tree_size`.
    #[serde(with = "hex_serde::hashes")]
    pub tree_path: Vec<Hash>,
    /// The signed head of that tree.
    pub tree_head: SignedTreeHead,
    /// Informative only: verification uses the key the verifier supplies.
    pub public_key: String,
}

impl Proof {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serializing this struct cannot fail: all keys are strings.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parse the JSON form.
    pub fn from_json(text: &str) -> Result<Proof, ProofError> {
        Ok(serde_json::from_str(text)?)
    }
}

/// What a successful [`verify_proof`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Partition of the block holding the event.
    pub partition: String,
    /// Sequence number of the block's first event.
    pub first_seq: u64,
    /// Position of the event in its block (its sequence number is `first_seq + event_index`).
    pub event_index: u64,
    /// Size of the signed tree.
    pub tree_size: u64,
    /// Timestamp of the signed tree head.
    pub timestamp_ms: i64,
}

/// Build the proof that `record`, the `event_index`-th record of the block
/// described by `leaf` (whose event leaf hashes are `event_hashes`), is in
/// the tree signed by `head`, the block being leaf `leaf_index` of
/// `tree_leaves` (which may be longer than `head.head.size`; only the first
/// `size` leaves are used). Every input is cross-checked.
#[allow(clippy::too_many_arguments)]
pub fn build_proof(
    record: &[u8],
    event_hashes: &[Hash],
    event_index: usize,
    leaf: &BlockLeaf,
    tree_leaves: &[Hash],
    leaf_index: usize,
    head: &SignedTreeHead,
    public_key_hex: &str,
) -> Result<Proof, ProofError> {
    let record_text =
        std::str::from_utf8(record).map_err(|_| ProofError::InvalidInput("record is not UTF-8"))?;
    if event_index >= event_hashes.len() {
        return Err(ProofError::InvalidInput("event_index out of range"));
    }
    if event_hashes.len() != leaf.count as usize {
        return Err(ProofError::InvalidInput(
            "event_hashes length differs from leaf.count",
        ));
    }
    if event_hashes[event_index] != merkle::event_leaf(record) {
        return Err(ProofError::InvalidInput(
            "record does not hash to event_hashes[event_index]",
        ));
    }
    if merkle::root(event_hashes) != leaf.events_root {
        return Err(ProofError::InvalidInput(
            "event_hashes do not match leaf.events_root",
        ));
    }
    let size = usize::try_from(head.head.size)
        .ok()
        .filter(|&s| s <= tree_leaves.len())
        .ok_or(ProofError::InvalidInput(
            "tree head is larger than tree_leaves",
        ))?;
    let tree = &tree_leaves[..size];
    if leaf_index >= size {
        return Err(ProofError::InvalidInput(
            "leaf_index is not in the signed tree",
        ));
    }
    let encoded = Leaf::Block(leaf.clone()).encode();
    if tree[leaf_index] != merkle::leaf_hash(&encoded) {
        return Err(ProofError::InvalidInput(
            "tree_leaves[leaf_index] is not the hash of leaf",
        ));
    }
    if merkle::root(tree) != head.head.root {
        return Err(ProofError::InvalidInput(
            "tree head root does not match tree_leaves",
        ));
    }
    Ok(Proof {
        format: PROOF_FORMAT.to_string(),
        record: record_text.to_string(),
        event_index: event_index as u64,
        block_events: event_hashes.len() as u64,
        event_path: merkle::inclusion_path(event_hashes, event_index),
        leaf: encoded,
        leaf_index: leaf_index as u64,
        tree_size: head.head.size,
        tree_path: merkle::inclusion_path(tree, leaf_index),
        tree_head: *head,
        public_key: public_key_hex.to_string(),
    })
}

/// Verify a proof against `public_key` (NOT the informative key inside the
/// proof). Checks, in order: format; the record climbs `event_path` to the
/// decoded block leaf's `events_root`; `tree_size == tree_head.size` and the
/// leaf climbs `tree_path` to `tree_head.root`; the head's signature.
pub fn verify_proof(proof: &Proof, public_key: &[u8; 32]) -> Result<Verified, ProofError> {
    if proof.format != PROOF_FORMAT {
        return Err(ProofError::Format(proof.format.clone()));
    }
    let block = match Leaf::decode(&proof.leaf)? {
        Leaf::Block(b) => b,
        Leaf::Deletion(_) => return Err(ProofError::NotABlock),
    };
    if proof.block_events != u64::from(block.count) {
        return Err(ProofError::BlockEventsMismatch {
            block_events: proof.block_events,
            count: block.count,
        });
    }
    let event = merkle::event_leaf(proof.record.as_bytes());
    if !merkle::verify_inclusion(
        &event,
        proof.event_index,
        proof.block_events,
        &proof.event_path,
        &block.events_root,
    ) {
        return Err(ProofError::EventPathInvalid);
    }
    let head = &proof.tree_head.head;
    if proof.tree_size != head.size {
        return Err(ProofError::TreeSizeMismatch {
            tree_size: proof.tree_size,
            head_size: head.size,
        });
    }
    if !merkle::verify_inclusion(
        &merkle::leaf_hash(&proof.leaf),
        proof.leaf_index,
        proof.tree_size,
        &proof.tree_path,
        &head.root,
    ) {
        return Err(ProofError::TreePathInvalid);
    }
    if !proof.tree_head.verify(public_key) {
        return Err(ProofError::SignatureInvalid);
    }
    Ok(Verified {
        partition: block.partition,
        first_seq: block.first_seq,
        event_index: proof.event_index,
        tree_size: proof.tree_size,
        timestamp_ms: head.timestamp_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{event_leaf, DeletionLeaf, Tree};
    use serde_json::Value;

    fn signer() -> Signer {
        Signer::from_seed(&[7u8; 32])
    }

    fn head() -> SignedTreeHead {
        signer().sign_head(&TreeHead {
            size: 120,
            root: [0x5A; 32],
            timestamp_ms: 1_700_000_000_000,
        })
    }

    fn temp_dir(name: &str) -> PathBuf {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).expect("random");
        std::env::temp_dir().join(format!("ym-{name}-{}", to_hex(&seed)))
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(to_hex(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(from_hex("0001ABff"), Some(vec![0, 1, 0xab, 0xff]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex_array::<2>("000102"), None);
    }

    #[test]
    fn signed_head_message_layout() {
        let h = head().head;
        let m = h.message();
        assert_eq!(m.len(), 20 + 8 + 8 + 32);
        assert_eq!(&m[..20], b"yagura-tree-head-v1\n");
        assert_eq!(&m[20..28], &120u64.to_be_bytes());
        assert_eq!(&m[28..36], &1_700_000_000_000i64.to_be_bytes());
        assert_eq!(&m[36..], &[0x5A; 32]);
    }

    #[test]
    fn signed_head_encode_decode_and_bit_flips() {
        let s = signer();
        let sth = head();
        assert!(sth.verify(&s.public_key()));
        let enc = sth.encode();
        assert_eq!(enc.len(), 112);
        let dec = SignedTreeHead::decode(&enc).expect("decode");
        assert_eq!(dec, sth);
        assert!(dec.verify(&s.public_key()));
        for i in 0..112 {
            for bit in 0..8 {
                let mut x = enc;
                x[i] ^= 1 << bit;
                let t = SignedTreeHead::decode(&x).expect("decode");
                assert!(!t.verify(&s.public_key()), "byte {i} bit {bit}");
            }
        }
        assert!(matches!(
            SignedTreeHead::decode(&enc[..111]),
            Err(ProofError::BadHeadLength(111))
        ));
        let other = Signer::from_seed(&[8u8; 32]);
        assert!(!sth.verify(&other.public_key()));
        assert!(!sth.verify(&[0xFF; 32]));
        // JSON with hex strings.
        let j = serde_json::to_value(sth).expect("json");
        assert_eq!(j["size"], 120);
        assert_eq!(j["root"], to_hex(&[0x5A; 32]));
        assert_eq!(j["signature"], to_hex(&sth.signature));
        let back: SignedTreeHead = serde_json::from_value(j).expect("parse");
        assert_eq!(back, sth);
    }

    #[test]
    fn signer_load_or_create() {
        let dir = temp_dir("keys");
        let a = Signer::load_or_create(&dir).expect("create");
        let b = Signer::load_or_create(&dir).expect("load");
        assert_eq!(a.public_key(), b.public_key());
        let pub_text = fs::read_to_string(dir.join("signing.pub")).expect("pub");
        assert_eq!(pub_text.trim(), a.public_key_hex());
        let key_text = fs::read_to_string(dir.join("signing.key")).expect("key");
        assert_eq!(key_text.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("signing.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sth = a.sign_head(&TreeHead {
            size: 1,
            root: [1; 32],
            timestamp_ms: 2,
        });
        assert!(sth.verify(&b.public_key()));
        fs::write(dir.join("signing.pub"), "00".repeat(32)).expect("write");
        assert!(matches!(
            Signer::load_or_create(&dir),
            Err(ProofError::BadKeyFile { .. })
        ));
        fs::remove_file(dir.join("signing.pub")).expect("rm");
        assert!(Signer::load_or_create(&dir).is_ok());
        fs::write(dir.join("signing.key"), "not hex").expect("write");
        assert!(matches!(
            Signer::load_or_create(&dir),
            Err(ProofError::BadKeyFile { .. })
        ));
        let _ = fs::remove_dir_all(&dir);
    }

    struct Fixture {
        signer: Signer,
        proof: Proof,
    }

    /// A store of 120 leaves (block leaves and one deletion leaf), proof for
    /// event 3 of the block at leaf 17.
    fn fixture() -> Fixture {
        let signer = signer();
        let records: Vec<String> = (0..37)
            .map(|i| format!("{{\"seq\":{},\"msg\":\"login ok\",\"n\":{i}}}", 1000 + i))
            .collect();
        let event_hashes: Vec<Hash> = records.iter().map(|r| event_leaf(r.as_bytes())).collect();
        let block = BlockLeaf {
            partition: "2026-12-02/auth".into(),
            first_seq: 1000,
            count: records.len() as u32,
            min_ts_ms: 1_700_000_000_000,
            max_ts_ms: 1_700_000_000_999,
            payload_hash: merkle::hash(records.concat().as_bytes()),
            events_root: merkle::root(&event_hashes),
        };
        let mut tree = Tree::new();
        for i in 0..125u64 {
            let leaf = match i {
                17 => Leaf::Block(block.clone()),
                40 => Leaf::Deletion(DeletionLeaf {
                    partition: "2026-01-01/fw".into(),
                    leaf_indices: vec![1, 2],
                    events: 50,
                    reason: "retention".into(),
                    at_ms: 5,
                }),
                _ => Leaf::Block(BlockLeaf {
                    first_seq: i * 100,
                    ..block.clone()
                }),
            };
            tree.push(leaf.hash());
        }
        let head = signer.sign_head(&TreeHead {
            size: 120,
            root: tree.root_at(120).expect("size"),
            timestamp_ms: 1_700_000_123_456,
        });
        let proof = build_proof(
            records[3].as_bytes(),
            &event_hashes,
            3,
            &block,
            tree.leaves(),
            17,
            &head,
            &signer.public_key_hex(),
        )
        .expect("build");
        Fixture { signer, proof }
    }

    #[test]
    fn proof_round_trip() {
        let f = fixture();
        let json = f.proof.to_json();
        let parsed = Proof::from_json(&json).expect("parse");
        assert_eq!(parsed, f.proof);
        let v = verify_proof(&parsed, &f.signer.public_key()).expect("verify");
        assert_eq!(
            v,
            Verified {
                partition: "2026-12-02/auth".into(),
                first_seq: 1000,
                event_index: 3,
                tree_size: 120,
                timestamp_ms: 1_700_000_123_456,
            }
        );
        let value: Value = serde_json::from_str(&json).expect("value");
        let keys: Vec<&str> = value
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        for k in [
            "format",
            "record",
            "event_index",
            "block_events",
            "event_path",
            "leaf",
            "leaf_index",
            "tree_size",
            "tree_path",
            "tree_head",
            "public_key",
        ] {
            assert!(keys.contains(&k), "{k}");
        }
        assert_eq!(keys.len(), 11);
        if let Ok(path) = std::env::var("YM_WRITE_PROOF") {
            fs::write(&path, &json).expect("write proof");
            println!("public key: {}", f.signer.public_key_hex());
        }
    }

    #[test]
    fn proof_with_other_key_fails() {
        let f = fixture();
        let other = Signer::from_seed(&[9u8; 32]);
        assert!(matches!(
            verify_proof(&f.proof, &other.public_key()),
            Err(ProofError::SignatureInvalid)
        ));
        // The key inside the proof is informative only.
        let mut p = f.proof.clone();
        p.public_key = other.public_key_hex();
        assert!(verify_proof(&p, &f.signer.public_key()).is_ok());
        assert!(matches!(
            verify_proof(&p, &other.public_key()),
            Err(ProofError::SignatureInvalid)
        ));
    }

    /// Tamper one JSON field, re-parse, verify.
    fn tampered(f: &Fixture, edit: impl FnOnce(&mut Value)) -> Result<Verified, ProofError> {
        let mut v: Value = serde_json::from_str(&f.proof.to_json()).expect("value");
        edit(&mut v);
        let p = Proof::from_json(&v.to_string())?;
        verify_proof(&p, &f.signer.public_key())
    }

    fn flip_hex(s: &str) -> String {
        let mut b = from_hex(s).expect("hex");
        let n = b.len() - 1;
        b[n] ^= 1;
        to_hex(&b)
    }

    #[test]
    fn every_tampered_field_fails_with_the_right_error() {
        let f = fixture();
        let pk = f.signer.public_key();
        assert!(verify_proof(&f.proof, &pk).is_ok());

        let r = tampered(&f, |v| v["format"] = "yagura-proof-v2".into());
        assert!(matches!(r, Err(ProofError::Format(s)) if s == "yagura-proof-v2"));

        let r = tampered(&f, |v| {
            let rec = v["record"].as_str().expect("str").replace("ok", "no");
            v["record"] = rec.into();
        });
        assert!(matches!(r, Err(ProofError::EventPathInvalid)));

        let r = tampered(&f, |v| v["event_index"] = 4.into());
        assert!(matches!(r, Err(ProofError::EventPathInvalid)));

        let r = tampered(&f, |v| v["block_events"] = 38.into());
        assert!(matches!(
            r,
            Err(ProofError::BlockEventsMismatch {
                block_events: 38,
                count: 37
            })
        ));

        let r = tampered(&f, |v| {
            let h = flip_hex(v["event_path"][1].as_str().expect("str"));
            v["event_path"][1] = h.into();
        });
        assert!(matches!(r, Err(ProofError::EventPathInvalid)));

        let r = tampered(&f, |v| {
            v["event_path"].as_array_mut().expect("arr").pop();
        });
        assert!(matches!(r, Err(ProofError::EventPathInvalid)));

        // Leaf: a byte flip in the events_root → event path no longer climbs.
        let r = tampered(&f, |v| {
            let h = flip_hex(v["leaf"].as_str().expect("str"));
            v["leaf"] = h.into();
        });
        assert!(matches!(r, Err(ProofError::EventPathInvalid)));

        // Leaf: a different first_seq, still a valid block → tree path fails.
        let r = tampered(&f, |v| {
            let mut leaf = match Leaf::decode(&from_hex(v["leaf"].as_str().expect("s")).expect("h"))
            {
                Ok(Leaf::Block(b)) => b,
                _ => panic!("not a block"),
            };
            leaf.first_seq += 1;
            v["leaf"] = to_hex(&Leaf::Block(leaf).encode()).into();
        });
        assert!(matches!(r, Err(ProofError::TreePathInvalid)));

        // Leaf: garbage → decode error; a deletion leaf → NotABlock.
        let r = tampered(&f, |v| v["leaf"] = "00".into());
        assert!(matches!(
            r,
            Err(ProofError::LeafDecode(MerkleError::BadMagic))
        ));
        let r = tampered(&f, |v| {
            let mut s = v["leaf"].as_str().expect("s").to_string();
            s.push_str("00");
            v["leaf"] = s.into();
        });
        assert!(matches!(
            r,
            Err(ProofError::LeafDecode(MerkleError::TrailingBytes(1)))
        ));
        let r = tampered(&f, |v| {
            let del = Leaf::Deletion(DeletionLeaf {
                partition: "p".into(),
                leaf_indices: vec![17],
                events: 37,
                reason: "r".into(),
                at_ms: 0,
            });
            v["leaf"] = to_hex(&del.encode()).into();
        });
        assert!(matches!(r, Err(ProofError::NotABlock)));

        let r = tampered(&f, |v| v["leaf_index"] = 18.into());
        assert!(matches!(r, Err(ProofError::TreePathInvalid)));

        let r = tampered(&f, |v| v["tree_size"] = 121.into());
        assert!(matches!(
            r,
            Err(ProofError::TreeSizeMismatch {
                tree_size: 121,
                head_size: 120
            })
        ));

        let r = tampered(&f, |v| {
            let h = flip_hex(v["tree_path"][0].as_str().expect("str"));
            v["tree_path"][0] = h.into();
        });
        assert!(matches!(r, Err(ProofError::TreePathInvalid)));

        let r = tampered(&f, |v| v["tree_head"]["size"] = 119.into());
        assert!(matches!(
            r,
            Err(ProofError::TreeSizeMismatch {
                tree_size: 120,
                head_size: 119
            })
        ));

        // Both sizes changed together: the path no longer fits the tree.
        let r = tampered(&f, |v| {
            v["tree_size"] = 119.into();
            v["tree_head"]["size"] = 119.into();
        });
        assert!(matches!(
            r,
            Err(ProofError::TreePathInvalid) | Err(ProofError::SignatureInvalid)
        ));

        let r = tampered(&f, |v| {
            let h = flip_hex(v["tree_head"]["root"].as_str().expect("str"));
            v["tree_head"]["root"] = h.into();
        });
        assert!(matches!(r, Err(ProofError::TreePathInvalid)));

        let r = tampered(&f, |v| v["tree_head"]["timestamp_ms"] = 1.into());
        assert!(matches!(r, Err(ProofError::SignatureInvalid)));

        let r = tampered(&f, |v| {
            let h = flip_hex(v["tree_head"]["signature"].as_str().expect("str"));
            v["tree_head"]["signature"] = h.into();
        });
        assert!(matches!(r, Err(ProofError::SignatureInvalid)));

        // Malformed JSON values are rejected when parsing.
        for edit in [
            |v: &mut Value| v["tree_head"]["root"] = "zz".into(),
            |v: &mut Value| v["tree_path"][0] = "abcd".into(),
            |v: &mut Value| v["leaf"] = "xyz".into(),
            |v: &mut Value| v["extra"] = 1.into(),
            |v: &mut Value| v["event_index"] = (-1).into(),
        ] {
            assert!(matches!(tampered(&f, edit), Err(ProofError::Json(_))));
        }
    }

    #[test]
    fn build_proof_rejects_inconsistent_inputs() {
        let records = [b"a".as_slice(), b"b", b"c"];
        let hashes: Vec<Hash> = records.iter().map(|r| event_leaf(r)).collect();
        let block = BlockLeaf {
            partition: "p".into(),
            first_seq: 0,
            count: 3,
            min_ts_ms: 0,
            max_ts_ms: 0,
            payload_hash: [0; 32],
            events_root: merkle::root(&hashes),
        };
        let leaves = vec![Leaf::Block(block.clone()).hash()];
        let s = signer();
        let head = s.sign_head(&TreeHead {
            size: 1,
            root: merkle::root(&leaves),
            timestamp_ms: 0,
        });
        let pk = s.public_key_hex();
        let ok = build_proof(b"b", &hashes, 1, &block, &leaves, 0, &head, &pk).expect("ok");
        assert!(verify_proof(&ok, &s.public_key()).is_ok());
        let bad = [
            build_proof(b"x", &hashes, 1, &block, &leaves, 0, &head, &pk),
            build_proof(b"b", &hashes, 3, &block, &leaves, 0, &head, &pk),
            build_proof(b"b", &hashes, 1, &block, &leaves, 1, &head, &pk),
            build_proof(b"b", &hashes[..2], 1, &block, &leaves, 0, &head, &pk),
            build_proof(&[0xFF], &hashes, 1, &block, &leaves, 0, &head, &pk),
        ];
        for b in bad {
            assert!(matches!(b, Err(ProofError::InvalidInput(_))));
        }
    }
}
