import numpy as np
import pytest

from detection.errors import PayloadTooLarge
from detection.watermark import payload


def test_round_trip_through_channel_bits():
    bits = payload.encode(0xDEADBEEF)
    assert bits.shape == (payload.CODED_BITS,) and set(np.unique(bits)) == {-1, 1}
    assert payload.decode(bits.astype(float)) == 0xDEADBEEF


def test_two_wrong_bytes_are_corrected():
    soft = payload.encode(0x01234567).astype(float)
    soft[3] *= -1
    soft[40] *= -1
    assert payload.decode(soft) == 0x01234567


def test_unreliable_bytes_are_treated_as_erasures():
    soft = payload.encode(0x89ABCDEF).astype(float)
    for byte in (0, 2, 5):  # three wrong bytes: too many errors, but the decoder knows they are weak
        soft[8 * byte: 8 * byte + 8] *= -0.01
    assert payload.decode(soft) == 0x89ABCDEF


def test_ids_beyond_32_bits_are_refused():
    with pytest.raises(PayloadTooLarge):
        payload.encode(2 ** 32)
