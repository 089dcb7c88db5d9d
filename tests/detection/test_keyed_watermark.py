"""The built-in keyed watermark on real speech from the heart engine and a real human recording."""
import io

import numpy as np
import soundfile as sf

from detection.decoding import decode_file
from detection.gate import RELEASE_P_VALUE
from detection.watermark import KeyedWatermark, WatermarkKey
from tests.conftest import HUMAN_RECORDING


def soxr_resample(samples, from_rate, to_rate):
    import soxr

    return soxr.resample(samples, from_rate, to_rate).astype(np.float32)

KEY = WatermarkKey(b"k" * 32)
OTHER_KEY = WatermarkKey(b"o" * 32)


def _through_mp3(samples, rate):
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="MP3", compression_level=0.0)
    buf.seek(0)
    return sf.read(buf, dtype="float32")[0]


def test_marked_speech_is_found_with_its_payload(heart_samples):
    wm = KeyedWatermark([KEY])
    marked = wm.embed(heart_samples, 24000, 0xC0FFEE01)
    assert marked.shape == heart_samples.shape and marked.dtype == np.float32
    verdict = wm.detect(marked, 24000)
    assert verdict.p_value <= RELEASE_P_VALUE
    assert verdict.mark_id == 0xC0FFEE01
    assert verdict.offset_s <= 0.0025  # within one sub-hop step of the true start


def test_the_mark_survives_mp3_and_a_change_of_rate(heart_samples):
    wm = KeyedWatermark([KEY])
    marked = wm.embed(heart_samples, 24000, 0x00000042)
    verdict = wm.detect(_through_mp3(marked, 24000), 24000)
    assert verdict.p_value <= RELEASE_P_VALUE and verdict.mark_id == 0x42
    import soxr

    verdict = wm.detect(soxr.resample(marked, 24000, 44100), 44100)
    assert verdict.p_value <= RELEASE_P_VALUE and verdict.mark_id == 0x42


def test_an_excerpt_cut_at_any_offset_is_matched_to_its_mark(heart_samples):
    wm = KeyedWatermark([KEY])
    marked = wm.embed(heart_samples, 24000, 0x1234ABCD)
    excerpt = marked[12345: 12345 + 3 * 24000]
    issued = [0x1234ABCD] + list(range(1, 1000))  # the mark among a thousand others in a ledger
    verdict = wm.match(excerpt, 24000, issued)
    assert verdict.p_value <= RELEASE_P_VALUE and verdict.mark_id == 0x1234ABCD


def test_speech_played_faster_is_found_at_its_speed(heart_samples):
    import soxr

    wm = KeyedWatermark([KEY])
    marked = wm.embed(heart_samples, 24000, 0x5EED)
    faster = soxr.resample(marked, 24000 * 1.25, 24000)  # AudioSeal's speed edit: 25 % faster, higher
    verdict = wm.detect(faster, 24000)
    assert verdict.p_value <= RELEASE_P_VALUE and abs(verdict.scale - 1.25) <= 0.01 and verdict.mark_id == 0x5EED


def test_a_spliced_excerpt_is_localised_within_a_quarter_second(studio):
    speech = studio.engine("heart").synthesize(
        "She sells sea shells by the sea shore and the shells she sells are surely seashells "
        "from the shore so she says.")
    wm = KeyedWatermark([KEY])
    marked = wm.embed(speech, 24000, 0xFEED)
    excerpt = marked[int(2.6 * 24000): int(5.6 * 24000)]  # 3 s of continuous speech (no pause)
    blocks = excerpt[: len(excerpt) // 2400 * 2400].reshape(-1, 2400)
    assert np.all(10 * np.log10(np.mean(blocks ** 2, axis=1)) > -45)
    unmarked, rate = decode_file(HUMAN_RECORDING)
    host = soxr_resample(unmarked, rate, 24000)[: 10 * 24000].copy()
    start = int(4.2 * 24000)
    host[start: start + len(excerpt)] = excerpt
    verdict = wm.match(host, 24000, [0xFEED, 1, 2, 3])
    assert verdict.p_value <= RELEASE_P_VALUE and verdict.mark_id == 0xFEED
    assert len(verdict.spans) == 1, verdict.spans
    begin, end = verdict.spans[0]
    assert abs(begin - 4.2) <= 0.25 and abs(end - 7.2) <= 0.25, verdict.spans


def test_unmarked_speech_and_a_wrong_key_find_nothing(heart_samples):
    wm = KeyedWatermark([KEY])
    assert wm.detect(heart_samples, 24000).p_value > RELEASE_P_VALUE
    marked = KeyedWatermark([OTHER_KEY]).embed(heart_samples, 24000, 7)
    assert wm.detect(marked, 24000).p_value > RELEASE_P_VALUE
    assert wm.verify(marked, 24000, 7).p_value > RELEASE_P_VALUE


def test_a_real_human_recording_is_not_flagged():
    samples, rate = decode_file(HUMAN_RECORDING)
    assert len(samples) / rate > 20
    verdict = KeyedWatermark([KEY]).detect(samples, rate)
    assert verdict.p_value > RELEASE_P_VALUE


def test_rotated_keys_still_find_old_marks(heart_samples):
    old = KeyedWatermark([KEY]).embed(heart_samples, 24000, 99)
    verdict = KeyedWatermark([OTHER_KEY, KEY]).detect(old, 24000)
    assert verdict.key_index == 1 and verdict.mark_id == 99 and verdict.p_value <= RELEASE_P_VALUE


def test_silence_and_very_short_audio_are_not_watermarked():
    wm = KeyedWatermark([KEY])
    for samples in (np.zeros(0, np.float32), np.zeros(100, np.float32), np.zeros(48000, np.float32)):
        verdict = wm.detect(samples, 24000)
        assert verdict.p_value == 1.0
    assert len(wm.embed(np.zeros(100, np.float32), 24000, 1)) == 100
