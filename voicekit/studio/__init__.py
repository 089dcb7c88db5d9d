"""The guarded pipeline, and the only place that composes it (see `facade` for the path and
`release` for the one way audio leaves)."""
from voicekit.studio.facade import Studio
from voicekit.studio.options import DEFAULT_RATE, PCM, STREAM_FORMATS, SpeechOptions
from voicekit.studio.request import MAX_RENDERED_S, MAX_TEXT_CHARS, Caller
from voicekit.studio.results import SpeechResult, StreamChunk
from voicekit.studio.stream import SpeechStream

__all__ = ["Studio", "SpeechOptions", "SpeechResult", "SpeechStream", "StreamChunk", "Caller",
           "DEFAULT_RATE", "PCM", "STREAM_FORMATS", "MAX_RENDERED_S", "MAX_TEXT_CHARS"]
