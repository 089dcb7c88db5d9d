"""voicekit: speech synthesis and cloning behind consent, a watermark and a release gate.

    from voicekit import Studio
    result = Studio().speak("Hello.", voice="heart")
    result.save("hello.wav")
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Studio", "SpeechOptions", "SpeechResult"]


def __getattr__(name: str):
    # Keep `import voicekit` light: the studio (and numpy, onnxruntime...) load on first use.
    if name in __all__:
        from voicekit import studio

        return getattr(studio, name)
    raise AttributeError(name)
