"""The 32-bit mark id as 64 channel bits: Reed-Solomon over GF(256), 4 data + 4 parity bytes.

Four parity bytes correct two wrong bytes, or up to four bytes flagged as unreliable (erasures);
the decoder flags the bytes whose bits had the weakest soft values.
"""
from __future__ import annotations

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

