"""Frame-level envelope mapping: a correction per class of sound, on top of the global conversion.

The global conversion moves the base voice's average spectrum to the person's; but a person's
vowels, nasals and liquids differ from the base voice's by different amounts, and a speaker encoder
hears that. Without a parallel recording (the person never read the base voice's sentences), the
classes come from the base voice: its voiced frames are clustered by spectral shape (k-means); the
person's voiced frames are assigned to the nearest class once the average difference is taken out;
and each class gets the difference of the two class means, less the average difference (which the
global envelope already applies), shrunk towards zero when the class holds few of the person's
frames. At synthesis every voiced frame gets a soft mix of the class corrections (weights from its
distance to the class centres), smoothed over neighbouring frames, so the timbre changes with the
sounds and never jumps.

Features are dB on the conversion's mel-spaced envelope bands, each frame's mean removed (shape, not
level); for `heart` they are read from its vocoder's harmonic envelope, for WORLD bases from
CheapTrick's envelope.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CLASSES = 8
MAX_CORRECTION_DB = 6.0
# Person frames per class at which a class correction is trusted half (n / (n + SHRINK_FRAMES)).
SHRINK_FRAMES = 60
SMOOTH_FRAMES = 5  # moving average of the per-frame correction (about 60 ms for heart)
# The soft assignment's distance scale, as a share of the classes' own spread: at 1 a frame's
# weights were nearly even and the corrections averaged out (1.3 dB rms per frame from classes 5 dB
# apart); at this share a frame takes mostly its own class, and the smoothing blends the changes.
SHARPNESS = 0.35
KMEANS_ITERATIONS = 25


@dataclass(frozen=True)
class SoundClasses:
    """centres: [K, bands] class centres in the base voice's own feature domain; corrections:
    [K, bands] dB added to the envelope of a frame of that class; spread: the feature distance
    scale of the soft assignment."""

    centres: tuple[tuple[float, ...], ...]
    corrections: tuple[tuple[float, ...], ...]
    spread: float

    def as_dict(self) -> dict[str, Any]:
        return {"centres": [[round(x, 2) for x in c] for c in self.centres],
                "corrections": [[round(x, 2) for x in c] for c in self.corrections],
                "spread": round(self.spread, 3)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SoundClasses":
        return cls(tuple(tuple(float(x) for x in c) for c in d["centres"]),
                   tuple(tuple(float(x) for x in c) for c in d["corrections"]), float(d["spread"]))

    def scaled(self, share: float) -> "SoundClasses":
        return SoundClasses(self.centres, tuple(tuple(share * x for x in c) for c in self.corrections), self.spread)

    def frame_corrections_db(self, features: np.ndarray, voiced: np.ndarray) -> np.ndarray:
        """[F, bands] dB for frames with `features` [F, bands]; zero where not voiced."""
        centres, corrections = np.array(self.centres), np.array(self.corrections)
        distance = ((features[:, None, :] - centres[None]) ** 2).mean(axis=2)
        logits = -distance / (2 * self.spread ** 2)
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        per_frame = (weights @ corrections) * voiced[:, None]
        kernel = np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES
        return np.stack([np.convolve(per_frame[:, b], kernel, mode="same") for b in range(per_frame.shape[1])], 1)


def shape(db: np.ndarray) -> np.ndarray:
    """[F, bands] dB with each frame's mean removed."""
    return db - db.mean(axis=1, keepdims=True)


def band_matrix(freqs_hz: np.ndarray, centres_hz: np.ndarray) -> np.ndarray:
    """[bins, bands]: the mean over the bins nearest each band centre (edges half-way between centres)."""
    edges = np.concatenate([[0.0], (centres_hz[1:] + centres_hz[:-1]) / 2, [centres_hz[-1] * 1.1]])
    m = np.zeros((len(freqs_hz), len(centres_hz)))
    for j, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        inside = (freqs_hz >= low) & (freqs_hz < high)
        if not inside.any():
            inside = np.arange(len(freqs_hz)) == np.argmin(np.abs(freqs_hz - centres_hz[j]))
        m[inside, j] = 1.0 / inside.sum()
    return m


def spread_matrix(freqs_hz: np.ndarray, centres_hz: np.ndarray) -> np.ndarray:
    """[bands, bins]: linear interpolation of band values onto the bins (flat beyond the ends)."""
    return np.stack([np.interp(freqs_hz, centres_hz, row) for row in np.eye(len(centres_hz))])


def kmeans(x: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Centres [k, d] and labels [n] (k-means++ start, fixed seed: the same references fit the same)."""
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = np.min(((x[:, None] - np.array(centres)[None]) ** 2).sum(2), axis=1)
        centres.append(x[rng.choice(len(x), p=d / d.sum())])
    c = np.array(centres)
    for _ in range(KMEANS_ITERATIONS):
        labels = np.argmin(((x[:, None] - c[None]) ** 2).sum(2), axis=1)
        c = np.array([x[labels == j].mean(0) if np.any(labels == j) else c[j] for j in range(k)])
    return c, np.argmin(((x[:, None] - c[None]) ** 2).sum(2), axis=1)


def learn(base_own: np.ndarray, base_world: np.ndarray, person_world: np.ndarray) -> SoundClasses:
    """base_own: the base voice's voiced frames as features of its own domain [F, bands];
    base_world: the same frames analysed like the person's [F, bands]; person_world: the person's
    voiced frames [P, bands]. All are shapes (shape())."""
    k = min(CLASSES, max(1, len(base_own) // 20))
    centres, labels = kmeans(base_own, k)
    world_means = np.array([base_world[labels == j].mean(0) for j in range(k)])
    offset = person_world.mean(0) - base_world.mean(0)
    person_labels = np.argmin((((person_world - offset)[:, None] - world_means[None]) ** 2).sum(2), axis=1)
    corrections = np.zeros_like(world_means)
    for j in range(k):
        mine = person_world[person_labels == j]
        if len(mine):
            trust = len(mine) / (len(mine) + SHRINK_FRAMES)
            corrections[j] = trust * (mine.mean(0) - world_means[j] - offset)
    spread = float(np.sqrt(np.mean([((base_own[labels == j] - centres[j]) ** 2).mean() for j in range(k)])))
    corrections = np.clip(corrections, -MAX_CORRECTION_DB, MAX_CORRECTION_DB)
    return SoundClasses(tuple(map(tuple, centres.tolist())), tuple(map(tuple, corrections.tolist())),
                        max(SHARPNESS * spread, 1e-3))
