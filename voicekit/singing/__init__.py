"""Singing from a score: score files -> notes and syllables (`readers`, `score`, `plan`) -> sung audio
in the voice's own frames (`render`, `voices`). The studio releases it like speech (`Studio.sing`)."""
from voicekit.singing.readers import SCORE_FORMATS, read_score, score_format
from voicekit.singing.score import Score

__all__ = ["Score", "read_score", "score_format", "SCORE_FORMATS"]
