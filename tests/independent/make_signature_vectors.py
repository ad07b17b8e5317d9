#!/usr/bin/env python3
"""Writes tests/vectors/signatures.json: Ed25519 edge cases for the ledger's one signature
rule (docs/LEDGER_FORMAT.md section 5, "strict"). Deterministic; standard library only.

Usage: make_signature_vectors.py > tests/vectors/signatures.json
"""
import hashlib
import json
import sys

from verify_vectors import G, add, decompress, equal, mul, p, q

IDENTITY = (0, 1, 1, 0)


def compress(P):
    zinv = pow(P[2], p - 2, p)
    x, y = P[0] * zinv % p, P[1] * zinv % p
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def h512(*parts):
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def expand(seed):
    d = hashlib.sha512(seed).digest()
    a = int.from_bytes(d[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, d[32:]


def le(n):
    return n.to_bytes(32, "little")


# A point of order 8 (curve25519-dalek's EIGHT_TORSION[1]).
T8 = decompress(bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))
assert equal(mul(8, T8), IDENTITY) and not equal(mul(4, T8), IDENTITY)
T2 = mul(4, T8)


def lenient(b):
    """Decompresses with y taken mod p, as some libraries do."""
    y = int.from_bytes(b, "little")
    return decompress((((y & ((1 << 255) - 1)) % p) | (y >> 255 << 255)).to_bytes(32, "little"))


def equations(A_bytes, msg, sig):
    """(cofactorless, cofactored) equation results, ignoring every encoding rule."""
    A, R = lenient(A_bytes), lenient(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    k = h512(sig[:32], A_bytes, msg) % q
    left, right = mul(s, G), add(R, mul(k, A))
    return equal(left, right), equal(mul(8, left), mul(8, right))


def vector(name, A_bytes, msg, sig, valid, why):
    plain, cofactored = equations(A_bytes, msg, sig)
    return {
        "name": name,
        "public_key": A_bytes.hex(),
        "message": msg.hex(),
        "signature": sig.hex(),
        "valid": valid,
        "cofactorless_equation": plain,
        "cofactored_equation": cofactored,
        "why": why,
    }


def main():
    seed = hashlib.sha256(b"icac-ledger signature vectors").digest()
    a, prefix = expand(seed)
    A = compress(mul(a, G))
    msg = hashlib.sha256(b"an event hash").digest()
    out = []

    r = h512(prefix, msg) % q
    R = compress(mul(r, G))
    s = (r + h512(R, A, msg) % q * a) % q
    out.append(vector("valid", A, msg, R + le(s), True, "an ordinary RFC 8032 signature"))

    out.append(vector("non-canonical S", A, msg, R + le(s + q), False,
                      "S + l encodes the same scalar but S must be < l"))

    R0 = compress(IDENTITY)
    s0 = h512(R0, A, msg) % q * a % q
    out.append(vector("small-order R", A, msg, R0 + le(s0), False,
                      "R is the identity (small order); both equations hold, the strict rule refuses R"))

    for name, T in (("cofactored-only, R = rB + T8", T8), ("cofactored-only, R = rB + T2", T2)):
        r1 = h512(prefix, msg, name.encode()) % q
        R1 = compress(add(mul(r1, G), T))
        s1 = (r1 + h512(R1, A, msg) % q * a) % q
        out.append(vector(name, A, msg, R1 + le(s1), False,
                          "only [8]sB = [8]R + [8]kA holds: the torsion part of R breaks the cofactorless equation"))

    for name, A0 in (("small-order A", compress(IDENTITY)),
                     ("non-canonical A", (p + 1).to_bytes(32, "little"))):
        r2 = h512(prefix, msg, name.encode()) % q
        R2 = compress(mul(r2, G))
        out.append(vector(name, A0, msg, R2 + le(r2), False,
                          "the key is the identity (small order%s); s = r satisfies the equations for any message" %
                          (", encoded with y = p + 1" if A0 != compress(IDENTITY) else "")))

    json.dump({
        "description": "Ed25519 edge cases for the ledger's signature rule (strict, LEDGER_FORMAT.md section 5). "
                       "`valid` is the rule's verdict; the two equation fields show why a looser rule would differ.",
        "rule": "strict",
        "vectors": out,
    }, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
