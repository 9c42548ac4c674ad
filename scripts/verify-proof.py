#!/usr/bin/env python3
"""Independent checker of a Yagura event inclusion proof ("yagura-proof-v1").

Usage: python3 scripts/verify-proof.py PROOF.json PUBKEY_HEX

Implements docs/integrity.md section 6 without any Yagura code. Needs
`pip install blake3 cryptography`. Exits 0 when the proof verifies, 1 when it
does not (or cannot be read), printing each check.
"""

import re
import json
import struct
import sys

try:
    import blake3
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError as e:  # pragma: no cover
    print(f"missing dependency ({e}); run: pip install blake3 cryptography", file=sys.stderr)
    sys.exit(1)

MAGIC = b"yagura-leaf-v1"
HEAD_CONTEXT = b"yagura-tree-head-v1\n"
FIELDS = {"format", "record", "event_index", "block_events", "event_path", "leaf",
          "leaf_index", "tree_size", "tree_path", "tree_head", "public_key"}


class Fail(Exception):
    pass


def H(data):
    return blake3.blake3(data).digest()


def leaf_hash(data):
    return H(b"\x00" + data)


def node_hash(left, right):
    return H(b"\x01" + left + right)


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def unhex(value, name, length=None):
    if not isinstance(value, str):
        raise Fail(f"{name}: not a hex string")
    try:
        b = bytes.fromhex(value)
    except ValueError:
        raise Fail(f"{name}: invalid hex")
    if length is not None and len(b) != length:
        raise Fail(f"{name}: expected {length} bytes, got {len(b)}")
    return b


def uint(value, name, bits=64):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**bits:
        raise Fail(f"{name}: not an unsigned {bits}-bit integer")
    return value


def sint(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or not -2**63 <= value < 2**63:
        raise Fail(f"{name}: not a signed 64-bit integer")
    return value


class Reader:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, n, field):
        if len(self.buf) - self.pos < n:
            raise Fail(f"leaf: truncated in {field}")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt, field):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), field))[0]

    def string(self, field):
        n = self.unpack(">I", field)
        try:
            return self.take(n, field).decode("utf-8")
        except UnicodeDecodeError:
            raise Fail(f"leaf: {field} is not UTF-8")


def decode_block_leaf(buf):
    if buf[:len(MAGIC)] != MAGIC:
        raise Fail("leaf: bad magic (expected yagura-leaf-v1)")
    r = Reader(buf)
    r.pos = len(MAGIC)
    kind = r.unpack(">B", "kind")
    if kind == 2:
        raise Fail("leaf: is a deletion leaf, not a block")
    if kind != 1:
        raise Fail(f"leaf: unknown kind {kind}")
    leaf = {
        "partition": r.string("partition"),
        "first_seq": r.unpack(">Q", "first_seq"),
        "count": r.unpack(">I", "count"),
        "min_ts_ms": r.unpack(">q", "min_ts_ms"),
        "max_ts_ms": r.unpack(">q", "max_ts_ms"),
        "payload_hash": r.take(32, "payload_hash"),
        "events_root": r.take(32, "events_root"),
    }
    if r.pos != len(buf):
        raise Fail(f"leaf: {len(buf) - r.pos} trailing bytes")
    return leaf


def check(proof, public_key):
    if not isinstance(proof, dict):
        raise Fail("proof is not a JSON object")
    if set(proof) != FIELDS:
        raise Fail(f"unexpected or missing fields: {sorted(set(proof) ^ FIELDS)}")
    # 1. format
    if proof["format"] != "yagura-proof-v1":
        raise Fail(f"format: {proof['format']!r} is not 'yagura-proof-v1'")
    print("ok   format is yagura-proof-v1")
    # 2. event in block
    leaf_bytes = unhex(proof["leaf"], "leaf")
    block = decode_block_leaf(leaf_bytes)
    print(f"ok   leaf decodes as a block: partition={block['partition']!r} "
          f"first_seq={block['first_seq']} count={block['count']}")
    block_events = uint(proof["block_events"], "block_events")
    if block_events != block["count"]:
        raise Fail(f"block_events {block_events} != leaf count {block['count']}")
    if not isinstance(proof["record"], str):
        raise Fail("record: not a string")
    event_index = uint(proof["event_index"], "event_index")
    if not isinstance(proof["event_path"], list):
        raise Fail("event_path: not an array")
    event_path = [unhex(h, f"event_path[{i}]", 32) for i, h in enumerate(proof["event_path"])]
    e = leaf_hash(proof["record"].encode("utf-8"))
    if not verify_inclusion(e, event_index, block_events, event_path, block["events_root"]):
        raise Fail("record + event_path do not lead to the leaf's events_root")
    # Ids in a block ascend but need not be consecutive: the record names its own.
    m = re.match(r'\{"yagura\.seq":(\d+)', proof["record"])
    seq = m.group(1) if m else "?"
    print(f"ok   record is event {event_index} of {block_events} in the block (yagura.seq {seq})")
    # 3. block in tree
    head = proof["tree_head"]
    if not isinstance(head, dict) or set(head) != {"size", "timestamp_ms", "root", "signature"}:
        raise Fail("tree_head: expected size, timestamp_ms, root, signature")
    tree_size = uint(proof["tree_size"], "tree_size")
    head_size = uint(head["size"], "tree_head.size")
    timestamp_ms = sint(head["timestamp_ms"], "tree_head.timestamp_ms")
    root = unhex(head["root"], "tree_head.root", 32)
    signature = unhex(head["signature"], "tree_head.signature", 64)
    if tree_size != head_size:
        raise Fail(f"tree_size {tree_size} != tree_head.size {head_size}")
    leaf_index = uint(proof["leaf_index"], "leaf_index")
    if not isinstance(proof["tree_path"], list):
        raise Fail("tree_path: not an array")
    tree_path = [unhex(h, f"tree_path[{i}]", 32) for i, h in enumerate(proof["tree_path"])]
    if not verify_inclusion(leaf_hash(leaf_bytes), leaf_index, tree_size, tree_path, root):
        raise Fail("leaf + tree_path do not lead to tree_head.root")
    print(f"ok   block is leaf {leaf_index} of the tree of size {tree_size}, root {root.hex()}")
    # 4. signature, with the key given on the command line (not the proof's)
    message = HEAD_CONTEXT + struct.pack(">Qq", head_size, timestamp_ms) + root
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        raise Fail("tree head signature is not valid for the given public key")
    print(f"ok   tree head (timestamp_ms={timestamp_ms}) is signed by {public_key.hex()}")
    if proof["public_key"] != public_key.hex():
        print(f"note the proof names another key ({proof['public_key']}); it is ignored")


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 1
    try:
        with open(argv[1], encoding="utf-8") as f:
            proof = json.load(f)
        public_key = unhex(argv[2].strip(), "PUBKEY_HEX", 32)
        check(proof, public_key)
    except (OSError, ValueError) as e:
        print(f"FAIL cannot read proof: {e}")
        return 1
    except Fail as e:
        print(f"FAIL {e}")
        return 1
    print("VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
