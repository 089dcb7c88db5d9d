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
