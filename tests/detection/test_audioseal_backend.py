"""The AudioSeal backend, with AudioSeal models built by the audioseal package's own builder from its
own model cards but with RANDOM weights (no checkpoint is downloaded, ever).

Random weights exercise the adapter (shapes, sample rates, message packing, checkpoint loading, gate
wiring), not watermark quality: a random generator embeds nothing a random detector can read, so
these tests say nothing about robustness or imperceptibility.
"""
import subprocess
import sys

import numpy as np
import pytest
import torch

from detection.errors import GateRefused, PayloadTooLarge, WatermarkModelInvalid, WatermarkModelMissing
from detection.gate import RELEASE_P_VALUE, ReleaseGate
from detection.watermark.audioseal_backend import (
    DETECTOR_CARD,
    DETECTOR_ENV,
    GENERATOR_CARD,
    GENERATOR_ENV,
    NBITS,
    AudioSealWatermark,
    bit_agreement_p_value,
    message_bits,
    message_tag,
)
from voicekit import audio

MARK = 0xABCDEF12


def _random_models():
    from audioseal.builder import (
        AudioSealDetectorConfig,
        AudioSealWMConfig,
        as_dict,
        create_detector,
        create_generator,
    )
    from audioseal.loader import AudioSeal, load_local_model_config

    def config(card, config_type):
        raw = as_dict(load_local_model_config(card))
        raw.pop("checkpoint")
        return AudioSeal.parse_config(raw, config_type)

    with torch.random.fork_rng():
        torch.manual_seed(0)
        generator = create_generator(config(GENERATOR_CARD, AudioSealWMConfig))
        detector = create_detector(config(DETECTOR_CARD, AudioSealDetectorConfig))
    return generator, detector


def _official_format(model) -> dict:
    """A checkpoint laid out as facebook/audioseal publishes them: {"xp.cfg", "model"}, keys from before
    AudioSeal's torchscript rename (no `inner_conv`), every SEANet conv weight-normed (weight_g, weight_v)."""
    state = {}
    for key, value in model.state_dict().items():
        key = key.replace(".inner_conv", "")
        if key.endswith((".conv.conv.weight", ".convtr.convtr.weight")):
            state[key + "_g"] = torch.norm_except_dim(value, 2, 0)
            state[key + "_v"] = value.clone()
        else:
            state[key] = value.clone()
    return {"xp.cfg": {"channels": 1, "sample_rate": 16000, "dtype": "float32"}, "model": state}


@pytest.fixture(scope="module")
def models():
    return _random_models()


@pytest.fixture(scope="module")
def wm(models):
    return AudioSealWatermark(*models)


@pytest.fixture(scope="module")
def checkpoints(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("audioseal")
    generator, detector = models
    torch.save(_official_format(generator), folder / "generator_base.pth")
    torch.save(_official_format(detector), folder / "detector_base.pth")
    return folder / "generator_base.pth", folder / "detector_base.pth"


@pytest.fixture(scope="module", params=[16000, 24000], ids=["16kHz", "24kHz"])
def clip(request, wm):
    """(rate, unmarked, marked with MARK): embedded once per rate, shared by the tests below."""
    x = _speechlike(request.param)
    return request.param, x, wm.embed(x, request.param, MARK)


def _speechlike(rate: int, seconds: float = 1.0) -> np.ndarray:
    """Harmonics of 140 Hz up to 11 kHz (so content above 8 kHz exists at 24 kHz), plus a little noise."""
    t = np.arange(int(rate * seconds)) / rate
    tones = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 80) if 140 * k < rate / 2 - 1000)
    noise = np.random.default_rng(1).normal(0, 0.01, len(t))
    return (0.05 * tones + noise).astype(np.float32)


# -- embedding ----------------------------------------------------------------------------------------
def test_embed_keeps_length_dtype_and_rate(clip):
    _, x, marked = clip
    assert marked.shape == x.shape and marked.dtype == np.float32
    assert np.isfinite(marked).all() and np.abs(marked).max() <= 1.0
    assert not np.array_equal(marked, x)


def test_embed_leaves_content_above_8khz_untouched(clip):
    rate, x, marked = clip
    residual = marked.astype(np.float64) - x
    spectrum = np.abs(np.fft.rfft(residual)) ** 2
    freqs = np.fft.rfftfreq(len(residual), 1 / rate)
    assert spectrum[freqs > 8200].sum() <= 1e-5 * spectrum.sum()  # -50 dB; trivially true at 16 kHz


def test_embed_refuses_an_id_over_32_bits(wm):
    with pytest.raises(PayloadTooLarge):
        wm.embed(np.zeros(1600, np.float32), 16000, 2**32)


# -- detection ----------------------------------------------------------------------------------------
def test_detect_and_verify_return_verdicts_with_p_in_unit_interval(wm, clip):
    rate, _, marked = clip
    blind = wm.detect(marked, rate)
    assert 0.0 <= blind.p_value <= 1.0
    assert blind.mark_id is None and blind.key_index is None  # 16 bits cannot name a 32-bit id
    targeted = wm.verify(marked, rate, MARK)
    assert 2.0**-NBITS <= targeted.p_value <= 1.0
    assert targeted.mark_id in (None, MARK) and -4.0 <= targeted.z_score <= 4.0


def test_match_counts_every_distinct_tag_and_names_no_id_it_cannot_tell_apart(wm, clip):
    rate, _, marked = clip
    other = MARK ^ 0x0000_00FF
    alone = [wm.verify(marked, rate, m).p_value for m in (MARK, other)]
    assert wm.match(marked, rate, [MARK, other]).p_value == min(1.0, 2 * min(alone))
    twins = wm.match(marked, rate, [MARK, MARK ^ 0xFFFF_0000])  # one tag, two ids
    assert twins.p_value == alone[0] and twins.mark_id is None
    assert wm.match(marked, rate, []).p_value == 1.0


def test_no_audio_is_no_mark(wm):
    assert wm.detect(np.zeros(0, np.float32), 24000).p_value == 1.0
    assert wm.verify(np.zeros(0, np.float32), 24000, MARK).p_value == 1.0


# -- payload and p-value --------------------------------------------------------------------------------
@pytest.mark.parametrize("mark_id", [0, 1, 0x8000, MARK, 2**32 - 1])
def test_message_round_trips_through_a_tensor(mark_id):
    bits = message_bits(mark_id)
    assert bits.shape == (NBITS,) and set(bits.tolist()) <= {0, 1}
    assert message_tag(torch.from_numpy(bits.astype(np.int64)).view(1, -1)) == mark_id & 0xFFFF


def test_message_is_the_low_16_bits_most_significant_first():
    assert message_bits(0x0000_8001).tolist() == [1] + [0] * 14 + [1]
    assert message_bits(0x1234_ABCD).tolist() == message_bits(0xFFFF_ABCD).tolist()  # the documented limit


def test_message_tag_rejects_what_is_not_16_bits():
    with pytest.raises(ValueError):
        message_tag([0, 1, 2] + [0] * 13)
    with pytest.raises(ValueError):
        message_tag([1] * 15)


def test_bit_agreement_p_value_is_the_binomial_tail_and_cannot_reach_the_release_threshold():
    assert bit_agreement_p_value(0) == 1.0
    assert bit_agreement_p_value(16) == 2.0**-16
    assert bit_agreement_p_value(15) == 17 / 2**16
    assert bit_agreement_p_value(16) > RELEASE_P_VALUE


# -- loading --------------------------------------------------------------------------------------------
def test_missing_checkpoints_name_the_variables_and_the_model_cards(tmp_path, checkpoints):
    with pytest.raises(WatermarkModelMissing) as e:
        AudioSealWatermark.from_files(tmp_path / "nope.pth", tmp_path / "nope-either.pth")
    message = str(e.value)
    assert GENERATOR_ENV in message and DETECTOR_ENV in message
    assert GENERATOR_CARD in message and DETECTOR_CARD in message and "nope.pth" in message
    with pytest.raises(WatermarkModelMissing, match="detector"):
        AudioSealWatermark.from_files(checkpoints[0], tmp_path / "nope-either.pth")


def test_unset_environment_names_the_variable(monkeypatch):
    monkeypatch.delenv(GENERATOR_ENV, raising=False)
    monkeypatch.setenv(DETECTOR_ENV, "/somewhere/detector_base.pth")
    with pytest.raises(WatermarkModelMissing, match=GENERATOR_ENV):
        AudioSealWatermark.from_environment()


def test_checkpoints_in_the_published_layout_load_with_the_same_weights(models, checkpoints, monkeypatch):
    monkeypatch.setenv(GENERATOR_ENV, str(checkpoints[0]))
    monkeypatch.setenv(DETECTOR_ENV, str(checkpoints[1]))
    loaded = AudioSealWatermark.from_environment()
    for original, copy in zip(models, (loaded.generator, loaded.detector)):
        want, got = original.state_dict(), copy.state_dict()
        assert want.keys() == got.keys()
        assert all(torch.allclose(want[k], got[k], atol=1e-6) for k in want)


def test_a_file_that_is_not_a_checkpoint_is_invalid(tmp_path, checkpoints):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch checkpoint")
    with pytest.raises(WatermarkModelInvalid, match="generator"):
        AudioSealWatermark.from_files(junk, checkpoints[1])


def test_swapped_checkpoints_are_invalid(checkpoints):
    with pytest.raises(WatermarkModelInvalid, match="missing"):
        AudioSealWatermark.from_files(checkpoints[1], checkpoints[0])


def test_importing_the_backend_loads_no_torch():
    code = "import sys, detection.watermark.audioseal_backend; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the gate -------------------------------------------------------------------------------------------
def test_the_gate_runs_end_to_end_and_refuses_random_weights(wm, clip):
    rate, _, marked = clip
    encoded = audio.encode(marked, rate, "wav")
    with pytest.raises(GateRefused, match="mark not found"):
        ReleaseGate(wm).check(encoded, MARK)


def test_the_gate_refuses_at_any_threshold_since_16_bits_cannot_name_the_id(wm, clip):
    rate, _, marked = clip
    verdict = wm.verify(marked, rate, MARK)
    assert verdict.payload_id is None
    with pytest.raises(GateRefused, match="payload"):
        ReleaseGate(wm, threshold=1.0).check(audio.encode(marked, rate, "wav"), MARK)
