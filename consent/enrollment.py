"""Enrollment: from a consent reading and reference recordings to a voice profile, or a refusal
that says which checks failed and by how much.

Every check runs (a refusal lists all failures, not the first). Whether a recording carries our
watermark is decided above this package (the studio runs the detector) and handed in as p-values.
Audio here is float32 mono at 16 kHz (consent.voiceprint.VOICEPRINT_RATE).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib.metadata import version
from typing import Any

import numpy as np

from consent.challenges import Challenge
from consent.details import CloneDetails, FittedVoice
from consent.profiles import PROFILE_PREFIX, VoiceProfile
from consent.statement import StatementChecker
from consent.voiceprint import (
    SpeakerEncoder,
    SpeechQuality,
    centroid,
    similarity,
    speech_quality,
    voiced_audio,
)

CLONE_ENGINE = "clone"
SCOPES = ("tts", "sing")


@dataclass(frozen=True)
class EnrollmentPolicy:
    """The bars a recording must clear. Speaker thresholds are cosine similarities of resemblyzer
    embeddings, calibrated by bench/consent.py (same speaker 0.89 or more on 5 s utterances; other voices
    mostly below 0.79)."""

    min_reference_voiced_s: float = 10.0
    max_clipped_fraction: float = 0.001
    min_snr_db: float = 15.0
    min_consent_voiced_s: float = 2.0
    same_speaker: float = 0.82  # consent reading against the references' centroid
    one_speaker: float = 0.75  # every pair of 5 s reference segments
    ours_p_value: float = 1e-4  # a recording whose watermark p-value is this small is our output


@dataclass(frozen=True)
class Recording:
    """One input: its label (a file name), its original bytes (hashed into the profile) and its
    samples at 16 kHz."""

    label: str
    data: bytes
    samples: np.ndarray

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def voiced(self) -> np.ndarray:
        """Only its speech (webrtcvad), computed once: the checks and the clone fit both embed it."""
        return voiced_audio(self.samples)


@dataclass
class Assessment:
    failures: list[str] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)

    def require(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)


class Enroller:
    """Runs the checks and builds the profile; models load on first use and are reused."""

    def __init__(self, policy: EnrollmentPolicy = EnrollmentPolicy(),
                 statements: StatementChecker | None = None, encoder: SpeakerEncoder | None = None) -> None:
        self.policy = policy
        self.statements = statements or StatementChecker()
        self.encoder = encoder or SpeakerEncoder()

    def assess(self, challenge: Challenge, consent: Recording, references: list[Recording],
               watermark_p: dict[str, float]) -> tuple[Assessment, np.ndarray | None]:
        """Check everything; returns the assessment (failures, and every figure measured) and the
        voice's embedding (None when there is too little speech to compute it).
        watermark_p: label -> the p-value of our watermark in that recording."""
        p, result = self.policy, Assessment()
        for label, p_value in watermark_p.items():
            result.require(p_value > p.ours_p_value,
                           f"{label} carries a voicekit watermark (p={p_value:.2g}); we never clone our own output")

        qualities = {r.label: speech_quality(r.samples) for r in references}
        self._check_references(qualities, result)
        consent_quality = speech_quality(consent.samples)
        result.require(consent_quality.voiced_s >= p.min_consent_voiced_s,
                       f"the consent recording has {consent_quality.voiced_s:.1f} s of speech; "
                       f"needs {p.min_consent_voiced_s:.0f} s")

        statement = self.statements.check(consent.samples, challenge.name, challenge.nonce)
        result.failures.extend(statement.failures())

        embedding = None
        voiced = sum(q.voiced_s for q in qualities.values())
        if voiced >= 2.0 and consent_quality.voiced_s >= 1.0:  # the least resemblyzer can embed usefully
            speech = np.concatenate([r.voiced for r in references])
            segments = self.encoder.embed_segments(speech)
            embedding = centroid(segments)
            pairs = [similarity(a, b) for i, a in enumerate(segments) for b in segments[i + 1:]]
            consistency = min(pairs) if pairs else 1.0
            result.require(consistency >= p.one_speaker,
                           f"the references do not sound like one speaker (lowest similarity between "
                           f"5 s segments {consistency:.2f}, needs {p.one_speaker:.2f})")
            match = similarity(self.encoder.embed(consent.voiced), embedding)
            result.require(match >= p.same_speaker,
                           f"the consent reading is not by the speaker of the references "
                           f"(similarity {match:.2f}, needs {p.same_speaker:.2f})")
            result.measured.update(reference_consistency=round(consistency, 3), speaker_similarity=round(match, 3))
        else:
            result.failures.append("too little speech to compare speakers")
        result.measured.update(
            references={label: _quality_dict(q) for label, q in qualities.items()},
            consent=_quality_dict(consent_quality),
            statement=statement.as_dict(),
            watermark_p={label: float(v) for label, v in watermark_p.items()},
        )
        return result, embedding

    def _check_references(self, qualities: dict[str, SpeechQuality], result: Assessment) -> None:
        p = self.policy
        voiced = sum(q.voiced_s for q in qualities.values())
        result.require(voiced >= p.min_reference_voiced_s,
                       f"the references hold {voiced:.1f} s of speech; needs {p.min_reference_voiced_s:.0f} s")
        for label, q in qualities.items():
            result.require(q.clipped_fraction <= p.max_clipped_fraction,
                           f"{label} is clipped ({q.clipped_fraction:.2%} of samples at full scale, "
                           f"allowed {p.max_clipped_fraction:.2%})")
            result.require(q.snr_db >= p.min_snr_db,
                           f"{label} is too noisy (SNR {q.snr_db:.1f} dB, needs {p.min_snr_db:.0f} dB)")

    def profile(self, challenge: Challenge, consent: Recording, references: list[Recording],
                assessment: Assessment, embedding: np.ndarray, scopes: tuple[str, ...],
                expires_at: float | None, now: float, references_sealed: bool,
                voice: FittedVoice | None = None) -> VoiceProfile:
        """The record to sign, for an assessment without failures. voice: how the profile is
        rendered (the base voice and its fitted conversion), fitted above this package."""
        if assessment.failures:
            raise ValueError("an enrollment with failed checks gets no profile")
        return VoiceProfile(
            voice_id=f"{PROFILE_PREFIX}{secrets.token_hex(6)}",
            kind="clone",
            engine=CLONE_ENGINE,
            display_name=challenge.name,
            licence=f"recorded consent of {challenge.name} (challenge {challenge.challenge_id})",
            scopes=scopes,
            created_at=now,
            expires_at=expires_at,
            details=CloneDetails(
                embedding=tuple(round(float(x), 6) for x in embedding),
                embedding_model=f"resemblyzer {version('resemblyzer')} (GE2E, 256-d, 16 kHz)",
                audio_sha256={"consent": consent.sha256, "references": [r.sha256 for r in references]},
                consent={
                    "challenge_id": challenge.challenge_id,
                    "phrase": challenge.phrase,
                    "issued_at": challenge.issued_at,
                    "enrolled_at": now,
                    "policy": asdict(self.policy),
                    **assessment.measured,
                },
                references_sealed=references_sealed,
                voice=voice,
            ).as_dict(),
        )


def _quality_dict(q: SpeechQuality) -> dict[str, float]:
    return {"duration_s": round(q.duration_s, 2), "voiced_s": round(q.voiced_s, 2),
            "clipped_fraction": round(q.clipped_fraction, 5), "snr_db": round(q.snr_db, 1)}
