"""A passive synthetic-speech detector: does this recording sound machine-made, without our key?

Advisory only: nothing is called ours without our mark, and a human recording scored "synthetic"
accuses nobody. Its model (`model.npz`, beside this file) is trained by `bench/train_passive.py`
from the data its manifest (`model.json`) lists, which also records the held-out figures.

Why this design (shared/notes/passive-detector.md, and the training script's measurements):
- Everything at 8 kHz, voiced frames only (webrtcvad), each recording levelled to one voiced RMS
  and given the same faint noise floor: the human speech packages ship is mostly 8 kHz telephone
  prompts, so a wider band, digital silence or a level would teach the model the channel instead
  of the voice.
- Linear-frequency cepstra (LFCC) with deltas: vocoder artefacts sit in the upper band, which a
  linear filterbank resolves better than a mel one. Each recording's mean cepstrum is removed:
  with it, the model learned the few training speakers' voices and flagged 32 % of held-out human
  recordings at a threshold set for 5 %; without it, 7-10 %, every synthetic test voice still flagged.
- Two scorers: one 16-component diagonal GMM per class (average log-likelihood ratio over frames) and a
  logistic regression on each recording's mean and spread of the features; their sum, each scaled
  by its spread on the training set, is the score. Above `threshold`: synthetic.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import scipy.fft
from scipy.special import logsumexp

from detection.errors import PassiveModelMissing
from detection.watermark.residual import resample
from detection.watermark.spectral import windowed_frames

RATE = 8000
FRAME = 160  # 20 ms
HOP = 80  # 10 ms
N_FFT = 256
N_FILTERS = 20
N_CEPS = 20
VAD_FRAME = 240  # 30 ms, a frame length webrtcvad takes at 8 kHz
VOICED_RMS = 0.05
NOISE_FLOOR = 10 ** (-70 / 20)  # the same faint noise under every recording
MIN_VOICED_S = 0.5
MODEL = Path(__file__).with_name("model.npz")
MANIFEST = Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class PassiveScore:
    """score: above `threshold` reads as synthetic (a sum of two scaled log-odds, roughly -10..10);
    voiced_s: how much speech it was computed on (below MIN_VOICED_S the score is None)."""

    score: float | None
    threshold: float
    voiced_s: float

    @property
    def synthetic(self) -> bool | None:
        return None if self.score is None else self.score > self.threshold

    def as_dict(self) -> dict[str, float | bool | None]:
        return {"score": None if self.score is None else round(self.score, 3), "threshold": round(self.threshold, 3),
                "synthetic": self.synthetic, "voiced_s": round(self.voiced_s, 2)}


def features(samples: np.ndarray, sample_rate: int, seed: int = 0) -> np.ndarray:
    """(frames, 2 * N_CEPS) float32: LFCC and their deltas of the voiced frames of mono float
    samples at any rate, after resampling to 8 kHz, levelling and the common noise floor."""
    x = resample(np.asarray(samples, np.float32), sample_rate, RATE)
    voiced = _voiced(x)
    if voiced.size == 0:
        return np.zeros((0, 2 * N_CEPS), np.float32)
    rms = float(np.sqrt(np.mean(voiced ** 2)))
    if rms == 0.0:
        return np.zeros((0, 2 * N_CEPS), np.float32)
    voiced = voiced * (VOICED_RMS / rms) + NOISE_FLOOR * np.random.default_rng(seed).standard_normal(len(voiced))
    frames = windowed_frames(voiced, 0, np.hamming(FRAME), HOP)
    power = np.abs(np.fft.rfft(frames, N_FFT, axis=1)) ** 2
    ceps = scipy.fft.dct(np.log(power @ _filterbank() + 1e-10), type=2, norm="ortho", axis=1)[:, :N_CEPS]
    ceps -= ceps.mean(axis=0)  # the recording's own spectral envelope: speaker and channel, not vocoder
    deltas = np.gradient(ceps, axis=0) if len(ceps) > 1 else np.zeros_like(ceps)
    return np.hstack([ceps, deltas]).astype(np.float32)


class PassiveDetector:
    """The shipped model; `load` reads it once (a few tens of kilobytes)."""

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.p = params
        self.threshold = float(params["threshold"])

    @classmethod
    def load(cls, path: Path = MODEL) -> "PassiveDetector":
        """Raises PassiveModelMissing naming the command that trains one."""
        try:
            with np.load(path) as data:
                return cls({k: data[k] for k in data.files})
        except (OSError, ValueError, KeyError) as e:
            raise PassiveModelMissing(f"no passive detector model at {path}: run `python bench/train_passive.py`") from e

    def score(self, samples: np.ndarray, sample_rate: int) -> PassiveScore:
        return self.score_features(features(samples, sample_rate))

    def score_features(self, feats: np.ndarray) -> PassiveScore:
        voiced_s = len(feats) * HOP / RATE
        if voiced_s < MIN_VOICED_S:
            return PassiveScore(None, self.threshold, voiced_s)
        gmm, lr = self.parts(feats)
        return PassiveScore(gmm / float(self.p["gmm_spread"]) + lr / float(self.p["lr_spread"]), self.threshold, voiced_s)

    def parts(self, feats: np.ndarray) -> tuple[float, float]:
        """The two scorers' log-odds, unscaled: the GMMs' mean frame log-likelihood ratio and the
        logistic regression's logit."""
        gmm = float(np.mean(_gmm_loglik(feats, self.p, "synthetic") - _gmm_loglik(feats, self.p, "human")))
        stats = (recording_stats(feats) - self.p["lr_mean"]) / self.p["lr_scale"]
        return gmm, float(stats @ self.p["lr_coef"] + self.p["lr_intercept"])


@cache
def detector() -> PassiveDetector:
    """The shipped detector, loaded on first use."""
    return PassiveDetector.load()


def recording_stats(feats: np.ndarray) -> np.ndarray:
    """(4 * N_CEPS,): the mean and standard deviation of each feature over a recording."""
    return np.concatenate([feats.mean(axis=0), feats.std(axis=0)]).astype(np.float64)


def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def _gmm_loglik(feats: np.ndarray, p: dict[str, np.ndarray], cls: str) -> np.ndarray:
    """Per-frame log-likelihood under a diagonal GMM stored as {cls}_weights, _means, _precisions."""
    weights, means, precisions = p[f"{cls}_weights"], p[f"{cls}_means"], p[f"{cls}_precisions"]
    x = feats.astype(np.float64)
    # log N(x; m, 1/prec) = 0.5 * sum(log prec) - 0.5 * sum(prec (x - m)^2) - d/2 log(2 pi)
    quad = (x ** 2) @ precisions.T - 2 * x @ (means * precisions).T + np.sum(means ** 2 * precisions, axis=1)
    log_norm = 0.5 * np.sum(np.log(precisions), axis=1) - 0.5 * x.shape[1] * np.log(2 * np.pi)
    return logsumexp(np.log(weights) + log_norm - 0.5 * quad, axis=1)


def _voiced(x: np.ndarray) -> np.ndarray:
    """The 30 ms frames of x (8 kHz) that webrtcvad calls speech, joined."""
    from consent.voiceprint import voiced_frames

    voiced = voiced_frames(x, RATE)
    frames = x[: len(voiced) * VAD_FRAME].reshape(len(voiced), VAD_FRAME)
    return frames[voiced].ravel()


@cache
def _filterbank() -> np.ndarray:
    """(N_FFT / 2 + 1, N_FILTERS): triangular filters evenly spaced on a linear axis, 0-4 kHz."""
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    edges = np.linspace(0, RATE / 2, N_FILTERS + 2)
    bank = np.zeros((len(freqs), N_FILTERS))
    for j in range(N_FILTERS):
        lo, mid, hi = edges[j: j + 3]
        bank[:, j] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return bank
