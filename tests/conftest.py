"""Shared fixtures: a studio in a temporary home (real keys, real SQLite, real ledger, real engines)."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
HUMAN_RECORDING = DATA / "human-allison-demo-congrats.wav"


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    from voicekit import Studio

    return Studio(home=tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def heart_samples(studio):
    """About 4 s of unmarked speech straight from the heart engine (24 kHz), for watermark tests."""
    engine = studio.engine("heart")
    return engine.synthesize("The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore.")


@pytest.fixture(scope="session")
def profiles(studio, tmp_path_factory):
    """Two clones of the same reader: one consented to speech only, one to speech and singing
    (singing and songs check the `sing` scope)."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("readings")
    heart = studio.engine("heart")
    sf.write(folder / "ref.wav", heart.synthesize(
        "The old lighthouse keeper climbed the winding stairs every evening to light the lamp. "
        "Rain had fallen all week, and the river was running high under the stone bridge. "
        "She packed a small bag with bread, cheese and apples before setting out at dawn."), heart.sample_rate)
    made = {}
    for scopes in (("tts",), ("tts", "sing")):
        challenge = studio.consent_challenge("Mary Jones", nonce=("harbor", "pencil", "tiger", "violin"))
        sf.write(folder / "consent.wav", heart.synthesize(challenge.phrase), heart.sample_rate)
        made[scopes] = studio.enroll(challenge.challenge_id, folder / "consent.wav", [folder / "ref.wav"],
                                     scopes=scopes).voice_id
    return made
