"""AudioSeal (Meta, facebookresearch/audioseal) behind the Watermarker protocol: a neural 16-bit mark.

What the caller must know:
- Models: the official 16-bit generator and detector (AudioSeal's model cards `audioseal_wm_16bits`
  and `audioseal_detector_16bits`), read from local files only. This module never downloads; the user
  fetches the two files once and points at them (see WatermarkModelMissing's message). torch and
  audioseal are imported only when a model is built or run, never when this module is imported.
- Sample rate: AudioSeal works at 16 kHz. `embed` resamples to 16 kHz (soxr, HQ), computes the
  watermark there and adds the watermark, resampled back, to the untouched original: content above
  8 kHz is left exactly as it was. `detect`, `verify` and `match` resample their input to 16 kHz.
- Payload: AudioSeal carries 16 bits, our mark id 32. The message is the id's LOW 16 BITS (its "tag"),
  most significant bit first. Why: Studio draws mark ids with secrets.randbits(32), so the tag is
  uniform and independent of the audio, which is exactly what the p-values of `verify` and `match`
  need; anyone holding the ledger can compute it without a secret. A keyed hash would add a secret but no
  strength: AudioSeal's detector is public and reads the bits without any key. The limitation: 2**16
  ids share each tag, so `detect` cannot name a 32-bit id and returns mark_id=None, and `verify` and
  `match` can only say the audio is consistent with an id's tag.
- p-values: `verify` and `match` use the bit agreement only. Under the null (the tag is uniform and
  independent of the audio) the number of the 16 decoded bits that match is Binomial(16, 1/2) whatever
  the audio and the detector, so its tail is an exact p-value (a union bound over the distinct tags
  when several candidates are tried); it is reported only when AudioSeal's detector also says
  "watermarked" (score > 0.5), else p = 1. Its floor is 2**-16 (about 1.5e-5): no AudioSeal verdict can
  reach the gate's default 1e-6. payload_id stays None (16 bits do not decode to a 32-bit id), and the
  gate also requires payload_id == the expected id, so ReleaseGate(AudioSealWatermark) refuses
  everything, fail-closed, at any threshold. That is the honest price of 16 bits.
  `detect` has only the detector's score, the share of 16 kHz samples its softmax calls watermarked.
  It is NOT calibrated (we have no unmarked corpus to calibrate it on), so blind p-values are
  1 - score when score > 0.5, else 1, and never below UNCALIBRATED_P_FLOOR: a flag for a targeted
  check, never proof on its own.
"""
from __future__ import annotations

import os
import re
import warnings
from math import comb, sqrt
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from detection.errors import PayloadTooLarge, WatermarkModelInvalid, WatermarkModelMissing
from detection.watermark.base import Verdict
from detection.watermark.residual import add_residual, resample

if TYPE_CHECKING:
    from audioseal import AudioSealDetector, AudioSealWM

MODEL_RATE = 16000
NBITS = 16
DETECTION_THRESHOLD = 0.5  # AudioSeal's own default, for the per-sample probability and for the score
UNCALIBRATED_P_FLOOR = 1e-3
GENERATOR_ENV = "VOICEKIT_AUDIOSEAL_GENERATOR"
DETECTOR_ENV = "VOICEKIT_AUDIOSEAL_DETECTOR"
GENERATOR_CARD = "audioseal_wm_16bits"
DETECTOR_CARD = "audioseal_detector_16bits"

_HOW_TO_GET = (
    "Download the official AudioSeal 16-bit checkpoints once (facebookresearch/audioseal; model cards "
    f"{GENERATOR_CARD} and {DETECTOR_CARD}): "
    "https://huggingface.co/facebook/audioseal/resolve/main/generator_base.pth and "
    "https://huggingface.co/facebook/audioseal/resolve/main/detector_base.pth "
    "(or `huggingface-cli download facebook/audioseal generator_base.pth detector_base.pth "
    "--local-dir DIR`), "
    f"then set {GENERATOR_ENV}=DIR/generator_base.pth and {DETECTOR_ENV}=DIR/detector_base.pth."
)
_NO_MARK = Verdict(p_value=1.0, mark_id=None, key_index=None, offset_s=None, z_score=0.0)
# Keys of a weight-normed conv in a checkpoint -> the plain weight the built model holds.
_WEIGHT_NORM_KEY = re.compile(r"\.(weight_[gv]|parametrizations\.weight\.original[01])$")


def message_bits(mark_id: int) -> np.ndarray:
    """mark id (0 <= id < 2**32) -> AudioSeal's message: (16,) uint8 in {0, 1}, the low 16 bits, MSB first."""
    if not 0 <= mark_id < 2**32:
        raise PayloadTooLarge(f"mark id {mark_id} does not fit in 32 bits")
    return ((mark_id & 0xFFFF) >> np.arange(NBITS - 1, -1, -1) & 1).astype(np.uint8)


def message_tag(bits) -> int:
    """16 bits in {0, 1}, MSB first (numpy array, torch tensor or list) -> the 16-bit tag, 0..65535."""
    b = np.asarray(bits).astype(np.int64).ravel()
    if b.shape != (NBITS,) or not np.isin(b, (0, 1)).all():
        raise ValueError(f"expected {NBITS} bits in {{0, 1}}, got {np.asarray(bits).tolist()}")
    return int(b @ (1 << np.arange(NBITS - 1, -1, -1)))


def bit_agreement_p_value(matching_bits: int, nbits: int = NBITS) -> float:
    """P(at least `matching_bits` of `nbits` agree) when the expected bits are uniform and independent
    of the decoded ones: the Binomial(nbits, 1/2) upper tail, exact. Floor: 2**-nbits."""
    return sum(comb(nbits, j) for j in range(matching_bits, nbits + 1)) / 2**nbits


class AudioSealWatermark:
    """The AudioSeal backend: `generator` and `detector` are built AudioSeal modules (set to eval mode).

    Use from_files / from_environment for the official checkpoints; the constructor takes any built
    pair (tests use randomly initialised ones).
    """

    name = "audioseal-16bits"

    def __init__(self, generator: AudioSealWM, detector: AudioSealDetector) -> None:
        self.generator = generator.eval()
        self.detector = detector.eval()

    @classmethod
    def from_files(
        cls, generator_path: Path | str, detector_path: Path | str, device: str = "cpu"
    ) -> AudioSealWatermark:
        """Build both models from local checkpoints (torch pickles as published: {"xp.cfg", "model"} or a
        bare state dict); the architecture comes from the audioseal package's own model cards.

        torch.load runs the pickle, as AudioSeal's own loader does: point only at files from the
        official source. Raises WatermarkModelMissing (no such file) or WatermarkModelInvalid.
        """
        generator_path = _existing(generator_path, "generator", GENERATOR_ENV)
        detector_path = _existing(detector_path, "detector", DETECTOR_ENV)
        return cls(_load("generator", generator_path).to(device), _load("detector", detector_path).to(device))

    @classmethod
    def from_environment(cls, device: str = "cpu") -> AudioSealWatermark:
        """from_files with the paths in VOICEKIT_AUDIOSEAL_GENERATOR and VOICEKIT_AUDIOSEAL_DETECTOR."""
        paths = []
        for var in (GENERATOR_ENV, DETECTOR_ENV):
            if not os.environ.get(var):
                raise WatermarkModelMissing(f"{var} is not set. {_HOW_TO_GET}")
            paths.append(os.environ[var])
        return cls.from_files(*paths, device=device)

    def embed(self, samples: np.ndarray, sample_rate: int, mark_id: int) -> np.ndarray:
        """float32 mono in [-1, 1] at sample_rate -> float32 of the same length and rate, clipped to [-1, 1].

        The watermark is computed at 16 kHz and only its resampled residual is added, so nothing
        above 8 kHz changes.
        """
        import torch

        bits = message_bits(mark_id)
        audio = np.asarray(samples, np.float32)
        x = resample(audio, sample_rate, MODEL_RATE).astype(np.float32)
        if len(x) == 0:
            return audio.copy()
        device = next(self.generator.parameters()).device
        with torch.inference_mode(), _eager():
            wave = torch.from_numpy(x).to(device).view(1, 1, -1)
            message = torch.from_numpy(bits.astype(np.int64)).to(device).view(1, -1)
            watermark = self.generator.get_watermark(wave, message=message)[0, 0].float().cpu().numpy()
        return add_residual(audio, watermark, MODEL_RATE, sample_rate)

    def detect(self, samples: np.ndarray, sample_rate: int) -> Verdict:
        """Blind: the p-value is NOT calibrated (module doc); mark_id is always None, since 16 bits cannot
        name a 32-bit id; z_score is 0 (there is no null model to standardise against)."""
        found = self._read(samples, sample_rate)
        if found is None:
            return _NO_MARK
        score, offset_s, _ = found
        p_value = 1.0 if score <= DETECTION_THRESHOLD else max(1.0 - score, UNCALIBRATED_P_FLOOR)
        return Verdict(p_value=p_value, mark_id=None, key_index=None, offset_s=offset_s, z_score=0.0)

    def verify(self, samples: np.ndarray, sample_rate: int, mark_id: int) -> Verdict:
        """Test for mark_id's 16-bit tag (the gate's question): `match` with one candidate."""
        return self.match(samples, sample_rate, [mark_id])

    def match(self, samples: np.ndarray, sample_rate: int, candidates: Sequence[int], plan: int | None = None
              ) -> Verdict:
        """Test for any of `candidates` by their 16-bit tags (module doc).

        p_value: the binomial tail of the best candidate's matching bits (>= 2**-16) times the number of
        distinct tags tried, or 1 when the detector says "not watermarked". mark_id: the best-matching
        candidate when the detector agrees and no other candidate matches as well (ids that share a tag
        cannot be told apart), else None. z_score: (2 * matching bits - 16) / 4, in [-4, 4].
        """
        tags = np.stack([message_bits(c) for c in candidates]) if len(candidates) else None
        found = None if tags is None else self._read(samples, sample_rate)
        if found is None:
            return _NO_MARK
        score, offset_s, bits = found
        matches = np.sum(tags == bits, axis=1)
        best = int(np.argmax(matches))
        detected = score > DETECTION_THRESHOLD
        n_tags = max(plan or 0, len(np.unique(tags, axis=0)))
        alone = int(np.sum(matches == matches[best])) == 1
        return Verdict(
            p_value=min(1.0, n_tags * bit_agreement_p_value(int(matches[best]))) if detected else 1.0,
            mark_id=int(candidates[best]) if detected and alone else None,
            key_index=None,
            offset_s=offset_s,
            z_score=(2 * int(matches[best]) - NBITS) / sqrt(NBITS),
        )

    def _read(self, samples: np.ndarray, sample_rate: int) -> tuple[float, float | None, np.ndarray] | None:
        """(score in [0, 1], first flagged second or None, (16,) uint8 decoded bits); None for no audio."""
        import torch

        x = resample(samples, sample_rate, MODEL_RATE).astype(np.float32)
        if len(x) == 0:
            return None
        device = next(self.detector.parameters()).device
        with torch.inference_mode(), _eager():
            result, message = self.detector(torch.from_numpy(x).to(device).view(1, 1, -1))
        flagged = result[0, 1].float().cpu().numpy() > DETECTION_THRESHOLD
        score = float(flagged.mean())
        offset_s = float(np.argmax(flagged)) / MODEL_RATE if score > DETECTION_THRESHOLD else None
        bits = (message[0].float().cpu().numpy() > 0.5).astype(np.uint8)
        return score, offset_s, bits


def _eager():
    """AudioSeal 0.2's SEANet wraps forward in a lazy torch.compile: about a minute on a CPU for the first
    call and a recompile for many new lengths. Its own switch turns that off; eager runs of a few
    seconds of audio take well under a second on a CPU."""
    from audioseal.libs.moshi.utils.compile import no_compile

    return no_compile()


def _existing(path: Path | str, kind: str, env: str) -> Path:
    """Absolute path of an existing file, so audioseal's loader can only read it (never fetch a URL)."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise WatermarkModelMissing(f"no AudioSeal {kind} checkpoint at {resolved} ({env}). {_HOW_TO_GET}")
    return resolved


def _load(kind: str, path: Path) -> AudioSealWM | AudioSealDetector:
    """Build the model from the package's card with audioseal's builder, then load the checkpoint with
    audioseal's loader functions (key conversion, weight-norm folding). Missing tensors are refused,
    since audioseal would silently leave them random."""
    from audioseal.builder import (
        AudioSealDetectorConfig,
        AudioSealWMConfig,
        as_dict,
        create_detector,
        create_generator,
    )
    from audioseal.loader import (
        AudioSeal,
        convert_state_dict_for_scriptable_model,
        load_local_model_config,
        load_model_checkpoint,
        load_state_dict,
    )

    card, config_type, create = {
        "generator": (GENERATOR_CARD, AudioSealWMConfig, create_generator),
        "detector": (DETECTOR_CARD, AudioSealDetectorConfig, create_detector),
    }[kind]
    config = as_dict(load_local_model_config(card))
    config.pop("checkpoint")  # the card's download URL: never used here
    model = create(AudioSeal.parse_config(config, config_type))
    try:
        checkpoint = load_model_checkpoint(path)
        if "best_state" in checkpoint:
            checkpoint = checkpoint["best_state"]["model"]
        elif "model" in checkpoint:
            checkpoint = checkpoint["model"]
        state = convert_state_dict_for_scriptable_model(checkpoint)
        missing = set(model.state_dict()) - {_WEIGHT_NORM_KEY.sub(".weight", k) for k in state}
        if not missing:
            with warnings.catch_warnings():  # audioseal folds weight norm with torch's deprecated helper
                warnings.filterwarnings("ignore", "`torch.nn.utils.weight_norm` is deprecated", FutureWarning)
                load_state_dict(model, state)
    except Exception as e:  # a pickle can fail in any way; all of them mean "not this model"
        raise WatermarkModelInvalid(f"{path} is not an AudioSeal 16-bit {kind} checkpoint ({e!r})") from e
    if missing:
        raise WatermarkModelInvalid(
            f"{path} is not an AudioSeal 16-bit {kind} checkpoint: {len(missing)} of the model's "
            f"{len(model.state_dict())} tensors are missing (e.g. {sorted(missing)[0]})"
        )
    return model
