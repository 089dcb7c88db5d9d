"""The 32-bit mark id as 64 channel bits: Reed-Solomon over GF(256), 4 data + 4 parity bytes.

Four parity bytes correct two wrong bytes, or up to four bytes flagged as unreliable (erasures);
the decoder flags the bytes whose bits had the weakest soft values.
"""
from __future__ import annotations

from functools import cache

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

from detection.errors import PayloadTooLarge

PAYLOAD_BYTES = 4
PARITY_BYTES = 4
CODED_BITS = 8 * (PAYLOAD_BYTES + PARITY_BYTES)
_CODEC = RSCodec(PARITY_BYTES)


def encode(mark_id: int) -> np.ndarray:
    """mark id (0 <= id < 2**32) -> int8 array of CODED_BITS values in {-1, +1} (bit 1 -> +1)."""
    if not 0 <= mark_id < 2 ** (8 * PAYLOAD_BYTES):
        raise PayloadTooLarge(f"mark id {mark_id} does not fit in {8 * PAYLOAD_BYTES} bits")
    coded = bytes(_CODEC.encode(mark_id.to_bytes(PAYLOAD_BYTES, "big")))
    bits = np.unpackbits(np.frombuffer(coded, np.uint8))
    return (bits.astype(np.int8) * 2 - 1)


def decode(soft: np.ndarray) -> int | None:
    """Soft values (CODED_BITS floats, positive means bit 1) -> mark id, or None when uncorrectable.

    Tries a plain decode first, then marks the least reliable bytes as erasures, weakest first.
    """
    hard = np.packbits((np.asarray(soft) > 0).astype(np.uint8)).tobytes()
    reliability = np.abs(np.asarray(soft, np.float64)).reshape(-1, 8).min(axis=1)
    weakest = [int(i) for i in np.argsort(reliability)]
    attempts = [[]] + [sorted(weakest[:n]) for n in (1, 2, 3, 4)]
    for erase in attempts:
        try:
            message, _, _ = _CODEC.decode(hard, erase_pos=erase or None)
        except ReedSolomonError:
            continue
        return int.from_bytes(bytes(message), "big")
    return None



# -- list decoding: the marks an edited clip's soft bits could name, without the ledger ----------
# RS(8, 4) is MDS: any 4 of the 8 coded bytes fix the message. For each of the 70 choices of 4 bytes,
# each byte is guessed 4 ways (its hard decision, and with its one or two weakest bits flipped); the
# 17,920 messages these give are ranked by how well their codewords agree with the soft bits.
# The list is picked from the very audio it is then tested on, so a matched test of it must count
# every codeword (the list is a subset of them): counting only the list's own size made 15 % of
# unmarked clips score p <= 0.01 in bench/watermark.py.
LIST_GUESSES = 4
LIST_SIZE = 64  # the best-agreeing ones handed to the matched test
LIST_PLAN = 2 ** (8 * PAYLOAD_BYTES)  # the candidates a matched test of the list counts


def candidates(soft: np.ndarray, size: int = LIST_SIZE) -> list[int]:
    """Up to `size` mark ids whose codewords agree best with `soft` (CODED_BITS values, positive
    means bit 1), best first; [] for no soft bits. A bounded set for an auditor's matched test
    (counted as LIST_PLAN candidates), whatever the ledger's size."""
    soft = np.asarray(soft, np.float64)
    if soft.size != CODED_BITS:
        return []
    mul, generator, inverses, subsets = _tables()
    bits = soft.reshape(-1, 8)
    hard = np.packbits(bits > 0, axis=1)[:, 0]
    weakest = np.argsort(np.abs(bits), axis=1)[:, :2]
    flips = (np.left_shift(1, 7 - weakest)).astype(np.uint8)
    guesses = np.stack([hard, hard ^ flips[:, 0], hard ^ flips[:, 1], hard ^ flips[:, 0] ^ flips[:, 1]], axis=1)
    choice = np.array(np.meshgrid(*[np.arange(LIST_GUESSES)] * 4, indexing="ij")).reshape(4, -1).T
    known = guesses[subsets[:, None, :], choice[None, :, :]]  # (70, 256, 4) byte values at the chosen positions
    messages = np.bitwise_xor.reduce(mul[inverses[:, None, :, :], known[:, :, None, :]], axis=-1).reshape(-1, 4)
    messages = np.unique(messages, axis=0)
    codewords = np.bitwise_xor.reduce(mul[generator[None, :, :], messages[:, None, :]], axis=-1)
    scores = (np.unpackbits(codewords.astype(np.uint8), axis=1).astype(np.float64) * 2 - 1) @ soft
    best = np.argsort(-scores, kind="stable")[:size]
    return [int.from_bytes(bytes(messages[i].astype(np.uint8)), "big") for i in best]


@cache
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """GF(256) multiplication table (the codec's field), the code's 8x4 generator matrix, and for
    each 4-byte subset of positions the 4x4 matrix that recovers the message from those bytes."""
    from itertools import combinations

    import reedsolo

    exp, log = np.array(reedsolo.gf_exp, np.int64), np.array(reedsolo.gf_log, np.int64)
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    mul = np.where((a == 0) | (b == 0), 0, exp[(log[a] + log[b]) % 255]).astype(np.uint8)
    generator = np.stack([np.frombuffer(bytes(_CODEC.encode(bytes(int(i == j) for j in range(PAYLOAD_BYTES)))),
                                        np.uint8) for i in range(PAYLOAD_BYTES)], axis=1)  # (8, 4)
    subsets = np.array(list(combinations(range(PAYLOAD_BYTES + PARITY_BYTES), PAYLOAD_BYTES)))
    inverses = np.stack([_gf_inverse(generator[s], mul) for s in subsets])
    return mul, generator, inverses, subsets


def _gf_inverse(matrix: np.ndarray, mul: np.ndarray) -> np.ndarray:
    """Inverse of a square matrix over GF(256) by Gauss-Jordan elimination."""
    n = len(matrix)
    work = np.concatenate([matrix.astype(np.uint8), np.eye(n, dtype=np.uint8)], axis=1)
    inverse_of = {int(x): int(y) for x in range(1, 256) for y in range(1, 256) if mul[x, y] == 1}
    for col in range(n):
        pivot = next(r for r in range(col, n) if work[r, col])
        work[[col, pivot]] = work[[pivot, col]]
        work[col] = mul[inverse_of[int(work[col, col])], work[col]]
        for r in range(n):
            if r != col and work[r, col]:
                work[r] ^= mul[work[r, col], work[col]]
    return work[:, n:]
