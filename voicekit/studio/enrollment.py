"""Enrollment as the studio composes it: the detector says whether a recording is our own output
(the consent package cannot import detection), the consent package decides, and the clone's voice
is fitted on the person's references."""
from __future__ import annotations

from pathlib import Path
import numpy as np

from consent.details import FittedVoice
from consent.enrollment import SCOPES, Enroller, Recording
from consent.keys import RegistryKeys
from consent.ledger import Ledger
from consent.voiceprint import VOICEPRINT_RATE
from detection.audit import inspect_audio
from detection.decoding import read_audio_file
from detection.watermark import Watermarker
from voicekit import audio
from voicekit.cloning.engine import CONVERTIBLE_BASES, choose_base, renderer_for
from voicekit.cloning.fit import base_similarity, fit_conversion, split_held_out
from voicekit.errors import BadInput, TooLong
from voicekit.studio.voices import Voices

RECENT_OUTPUTS_CHECKED = 10_000  # outputs whose marks an enrollment recording is matched against
MAX_RECORDING_S = 300.0  # seconds one consent reading or reference may last once decoded
# Seconds all the references together may last: five minutes is where more speech stops helping the
# fit's class corrections much, and it bounds an enrollment's work (issue 16).
MAX_REFERENCES_S = 300.0


def check_request(references: list, scopes: tuple[str, ...], expires_at: float | None, now: float) -> None:
    if not references:
        raise BadInput("give at least one reference recording (10 s of speech in total)")
    unknown = set(scopes) - set(SCOPES)
    if not scopes or unknown:
        raise BadInput(f"scopes must be among {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}")
    if expires_at is not None and expires_at <= now:
        raise BadInput("the expiry date is in the past")


def recording(path: Path | str) -> Recording:
    """A recording read once: its bytes (hashed into the record) and its samples at 16 kHz;
    refused (TooLong) past MAX_RECORDING_S before it is decoded further."""
    data, samples, rate = read_audio_file(path, max_seconds=MAX_RECORDING_S)
    return Recording(Path(path).name, data, audio.resample(samples, rate, VOICEPRINT_RATE))


def references(paths: list[Path | str]) -> list[Recording]:
    """The reference recordings, read one by one; refused (TooLong) once they pass MAX_REFERENCES_S in all."""
    out, total = [], 0.0
    for path in paths:
        out.append(recording(path))
        total += len(out[-1].samples) / VOICEPRINT_RATE
        if total > MAX_REFERENCES_S:
            raise TooLong(f"the references last over {total:.0f} s in all; at most {MAX_REFERENCES_S:.0f} s "
                          "(five minutes) of references are taken")
    return out


def watermark_p(recording: Recording, watermarker: Watermarker, ledger: Ledger, keys: RegistryKeys) -> float:
    """Our mark's p-value in an enrollment recording, matched against the latest outputs too:
    a clone of the victim saying the fresh challenge would have been made minutes before."""
    recent = ledger.recent_marks(RECENT_OUTPUTS_CHECKED)
    return inspect_audio(recording.samples, VOICEPRINT_RATE, watermarker, ledger, keys, recent).p_value


def fitted_voice(voices: Voices, enroller: Enroller, references: list[Recording], consent: Recording) -> FittedVoice:
    """Pick the base voice nearest the person, then fit the conversion that moves it towards them
    (checked on held-out references).

    Call only once the assessment passed: the consent reading then joins the fitting speech, since
    the speaker check has shown it to be the references' speaker; the held-out part stays the
    references' own."""
    fitting, held_out = split_held_out(np.concatenate([r.voiced for r in references]))
    fitting = np.concatenate([consent.voiced, fitting])
    person = enroller.encoder.embed(fitting)
    renderers = {name: renderer_for(voices.engine(name)) for name in CONVERTIBLE_BASES}
    nearness = {name: base_similarity(r, person, enroller.encoder.embed) for name, r in renderers.items()}
    base = choose_base(nearness, renderers)
    conversion, report = fit_conversion(renderers[base], fitting, held_out, enroller.encoder.embed,
                                        enroller.statements.transcribe)
    return FittedVoice(base=base, conversion=conversion.as_dict(), fit=report.as_dict(),
                       base_similarity={k: round(v, 3) for k, v in nearness.items()})
