#!/usr/bin/env python3
"""An independent verifier for docs/LEDGER_FORMAT.md (versions 1 and 2), written from the document alone.

Uses only the Python standard library: hashlib for SHA-256/SHA-512, a transcription of
the RFC 8032 section 6 reference code for Ed25519, and RFC 8785 for the integer-only
JSON subset. Usage: verify_vectors.py tests/vectors/ledger-v1.json  (exit 0 = all good);
verify_vectors.py tests/vectors/signatures.json checks the signature rule's edge cases.
"""
import base64
import hashlib
import json
import sys

# ---- Ed25519 verification (RFC 8032, section 6) ----
p = 2**255 - 19
q = 2**252 + 27742317777372353535851937790883648493


def inv(x):
    return pow(x, p - 2, p)


d = -121665 * inv(121666) % p
SQRT_M1 = pow(2, (p - 1) // 4, p)


def add(P, Q):
    A, B = (P[1] - P[0]) * (Q[1] - Q[0]) % p, (P[1] + P[0]) * (Q[1] + Q[0]) % p
    C, D = 2 * P[3] * Q[3] * d % p, 2 * P[2] * Q[2] % p
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F, G * H, F * G, E * H)


def mul(s, P):
    Q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            Q = add(Q, P)
        P = add(P, P)
        s >>= 1
    return Q


def equal(P, Q):
    return (P[0] * Q[2] - Q[0] * P[2]) % p == 0 and (P[1] * Q[2] - Q[1] * P[2]) % p == 0


def recover_x(y, sign):
    if y >= p:
        return None
    x2 = (y * y - 1) * inv(d * y * y + 1)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (p + 3) // 8, p)
    if (x * x - x2) % p != 0:
        x = x * SQRT_M1 % p
    if (x * x - x2) % p != 0:
        return None
    if (x & 1) != sign:
        x = p - x
    return x


GY = 4 * inv(5) % p
GX = recover_x(GY, 0)
G = (GX, GY, 1, GX * GY % p)


def decompress(s):
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % p)


def small_order(P):
    return equal(mul(8, P), (0, 1, 1, 0))


def ed25519_verify(public, msg, sig):
    """The ledger's rule (LEDGER_FORMAT.md section 5, strict): A and R canonical
    (decompress refuses y >= p) and not of small order, s < q, cofactorless equation."""
    A = decompress(public)
    R = decompress(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if A is None or R is None or s >= q or small_order(A) or small_order(R):
        return False
    h = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % q
    return equal(mul(s, G), add(R, mul(h, A)))


# ---- RFC 8785 for the ledger's subset (integers only) ----
def jcs(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        assert abs(v) <= 2**53 - 1, "unsafe integer"
        return str(v)
    if isinstance(v, float):
        raise ValueError("floats are not allowed in ledger records")
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            o = ord(ch)
            if ch == '"':
                out.append('\\"')
            elif ch == "\\":
                out.append("\\\\")
            elif o in (8, 9, 10, 12, 13):
                out.append({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}[o])
            elif o < 0x20:
                out.append("\\u%04x" % o)
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise ValueError("unexpected JSON value")


def sha256(b):
    return hashlib.sha256(b).digest()


PREFIX = b"icac-ledger:event:v1\x00"
RECORD_KEYS = {"ledger_id", "position", "aggregate_type", "aggregate_id", "sequence", "event_type",
               "event_version", "payload", "metadata", "prev_hash", "key_id"}


def merkle_root(leaves):
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:]))


def verify_note(note, ledger_id, public):
    body, sep, sigs = note.rpartition("\n\n")
    body += "\n"
    name = "icac-ledger/" + ledger_id
    key_hash = sha256(name.encode() + b"\n" + b"\x01" + public)[:4]
    for line in sigs.splitlines():
        prefix = "\u2014 " + name + " "
        if line.startswith(prefix):
            blob = base64.b64decode(line[len(prefix):])
            if blob[:4] == key_hash and ed25519_verify(public, body.encode(), blob[4:]):
                return body.splitlines()
    raise AssertionError("checkpoint note has no valid signature by the ledger key")


SEALED_PREFIX = b"icac-ledger:sealed:v2\x00"
HEX = set("0123456789abcdef")


def is_hash_hex(s):
    return isinstance(s, str) and len(s) == 64 and set(s) <= HEX


def pointer_token(key):
    return key.replace("~", "~0").replace("/", "~1")


def sealed_values(value, path=""):
    """Section 12.3: the (pointer, commitment) of every sealed object, in document order."""
    found = []
    if isinstance(value, dict):
        assert "unsealed" not in value, f"an unsealed value escaped sealing at {path}"
        if "sealed" in value:
            assert len(value) == 1 and is_hash_hex(value["sealed"]), f"malformed sealed value at {path}"
            return [(path, value["sealed"])]
        for k in sorted(value, key=lambda k: k.encode("utf-16-be")):
            found += sealed_values(value[k], path + "/" + pointer_token(k))
    elif isinstance(value, list):
        for i, x in enumerate(value):
            found += sealed_values(x, path + "/" + str(i))
    return found


def check_format(event, last_version):
    """Section 12.2: the record's version, which never goes down."""
    version = event.get("format_version", 1)
    assert "format_version" not in event or version == 2, "format_version must be absent or 2"
    assert version >= last_version, "format version went down"
    keys = RECORD_KEYS | ({"format_version"} if "format_version" in event else set())
    assert set(event) == keys, "record members"
    return version


def check_openings(v, events):
    """Sections 12.4 and 12.5: openings match, erased values have none, none is missing."""
    held = {}
    erased = set()
    for e in events:
        if e.get("format_version", 1) >= 2:
            for ptr, c in sealed_values(e["payload"]):
                held[c] = (e["position"], ptr)
        if e["event_type"] == "PersonalDataErased":
            for item in next(iter(e["payload"].values()))["erased"]:
                erased.add(item["commitment"])
    opened = set()
    for o in v.get("openings", []):
        salt = bytes.fromhex(o["salt"])
        assert len(salt) == 32, "salt is 32 bytes"
        value_bytes = jcs(o["value"]).encode("utf-8")
        assert sha256(SEALED_PREFIX + salt + value_bytes).hex() == o["commitment"], "sealed value corrupted"
        assert o["commitment"] in held, "unreferenced sealed value"
        assert held[o["commitment"]] == (int(o["position"]), o["path"]), "opening at the wrong place"
        assert o["commitment"] not in erased, "erased value still held"
        opened.add(o["commitment"])
    for c in held:
        assert c in opened or c in erased, f"sealed value unavailable: {c}"
    return len(opened), len(erased)


KEY_EVENTS = {"LedgerInitialized", "SigningKeyRotated"}


def real_instant(t):
    """recorded_at: YYYY-MM-DDTHH:MM:SS.ffffffZ naming a real instant (section 2)."""
    if len(t) != 27 or any(t[i] != c for i, c in ((4, "-"), (7, "-"), (10, "T"), (13, ":"),
                                                  (16, ":"), (19, "."), (26, "Z"))):
        return False
    digits = t[0:4] + t[5:7] + t[8:10] + t[11:13] + t[14:16] + t[17:19] + t[20:26]
    if not (digits.isascii() and digits.isdigit()):
        return False
    year, month, day = int(t[0:4]), int(t[5:7]), int(t[8:10])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return (1 <= month <= 12 and 1 <= day <= days[month - 1] and int(t[11:13]) < 24
            and int(t[14:16]) < 60 and int(t[17:19]) < 60)


def check_signature_vectors(v):
    assert v["rule"] == "strict", "signature rule"
    for item in v["vectors"]:
        verdict = ed25519_verify(bytes.fromhex(item["public_key"]), bytes.fromhex(item["message"]),
                                 bytes.fromhex(item["signature"]))
        assert verdict == item["valid"], f"signature vector {item['name']!r}: got {verdict}"
    print(f"ok: {len(v['vectors'])} signature vectors")


def main(path):
    v = json.load(open(path, encoding="utf-8"))
    if "vectors" in v:
        return check_signature_vectors(v)
    public = bytes.fromhex(v["public_key_hex"])
    assert v["key_id"] == sha256(public)[:16].hex(), "key_id"
    prev = bytes(32)
    leaves = []
    version = 1
    records = []
    for i, item in enumerate(v["events"]):
        event = dict(item["event"])
        h = bytes.fromhex(event.pop("hash"))
        sig = bytes.fromhex(event.pop("signature"))
        version = check_format(event, version)
        records.append(event)
        canonical = jcs(event).encode("utf-8")
        assert canonical == item["canonical"].encode("utf-8"), f"canonical bytes of event {i + 1}"
        assert event["position"] == i + 1, "position"
        assert bytes.fromhex(event["prev_hash"]) == prev, "prev_hash link"
        assert sha256(PREFIX + prev + canonical) == h, f"hash of event {i + 1}"
        assert event["key_id"] == v["key_id"], "key id"
        assert real_instant(event["metadata"]["recorded_at"]), f"recorded_at of event {i + 1}"
        in_key_stream = (event["aggregate_type"], event["aggregate_id"]) == ("ledger", event["ledger_id"])
        assert (event["event_type"] in KEY_EVENTS) == in_key_stream, f"key event stream of event {i + 1}"
        assert event["aggregate_type"] != "ledger" or in_key_stream, f"ledger stream of event {i + 1}"
        assert ed25519_verify(public, h, sig), f"signature of event {i + 1}"
        leaves.append(h)
        prev = h
    root = merkle_root(leaves)
    assert root.hex() == v["merkle_root"], "merkle root"
    if "openings" in v:
        kept, gone = check_openings(v, records)
        print(f"ok: {len(leaves)} events, {kept} sealed value(s) open, {gone} erased, root {root.hex()}")
        return
    lines = verify_note(v["checkpoint_note"], "ct-icac-test", public)
    assert lines[1] == str(len(leaves)), "checkpoint size"
    assert base64.b64decode(lines[2]) == root, "checkpoint root"
    assert lines[3] == "head " + prev.hex(), "checkpoint head"
    print(f"ok: {len(leaves)} events, head {prev.hex()}, root {root.hex()}")


if __name__ == "__main__":
    main(sys.argv[1])
