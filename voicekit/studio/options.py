"""How one call is spoken: every per-call option in one dataclass (piper's SynthesisConfig is the
model): one documented field per option, `None` meaning the voice's own default. speak, stream,
the CLI and the HTTP routes all build one of these."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from voicekit import audio, loudness
from voicekit.errors import BadInput, UnsupportedFormat
from voicekit.styles import style as named_style
from voicekit.text.lexicon import Lexicon
from voicekit.text.ssml import MAX_PITCH_ST, MAX_RATE, MIN_RATE

DEFAULT_RATE = 24000
PCM = "pcm"  # raw 16-bit little-endian mono: gated as WAV, released as the WAV's samples alone
# A stream is released chunk by chunk, each chunk a whole file of its own, so its format must decode
# as one when the pieces are joined: raw PCM and AAC in ADTS do. MP3 (a Xing header per piece) and
# Ogg Opus (chained streams) decode only their first piece in libsndfile, so they are not offered.
STREAM_FORMATS = (PCM, "aac")


@dataclass(frozen=True)
class SpeechOptions:
    """sample_rate: Hz of the output (8000..48000). format: wav, flac, ogg, mp3, opus, aac, m4a,
    or pcm (raw 16-bit samples, gated as WAV); a stream takes pcm (wav: the same) or aac.
    ssml: the text is an SSML document; every voice it names is consent-checked.
    rate: speed factor 0.5..2 (None: the voice's pace). pitch: semitones -12..12 (None: 0);
    both apply on top of any SSML prosody and style.
    style: a speaking style (voicekit.styles.STYLES; None: neutral).
    lexicon: pronunciations for this call, over the stored global and per-voice lexicons.
    word_timings: fill the result's `words`.
    clone_with: for an enrolled profile, a registered coqui model voice that clones from audio
    (XTTS-v2, YourTTS) to speak it with, instead of the profile's fitted conversion.
    loudness: a preset of voicekit.loudness (None: "speech", -18 LUFS, -1 dBTP; "acx" for audiobooks).
    """

    sample_rate: int = DEFAULT_RATE
    format: str = "wav"
    ssml: bool = False
    rate: float | None = None
    pitch: float | None = None
    style: str | None = None
    lexicon: Lexicon | None = None
    word_timings: bool = False
    clone_with: str | None = None
    loudness: str | None = None

    @classmethod
    def of(cls, options: "SpeechOptions | None" = None, **fields: Any) -> "SpeechOptions":
        """`options` (default: all defaults) with `fields` replaced; raises BadInput for a name
        that is no option."""
        base = options or cls()
        unknown = set(fields) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise BadInput(f"unknown speech option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(base, **fields) if fields else base

    def check(self, streaming: bool = False) -> None:
        """Raises BadInput (UnsupportedFormat) for any value out of range."""
        if streaming:
            if self.format not in STREAM_FORMATS:
                raise UnsupportedFormat(f"a stream can be {', '.join(STREAM_FORMATS)}, not {self.format!r}")
        elif self.format != PCM:
            audio.check_format(self.format)
        if not isinstance(self.sample_rate, int) or not audio.MIN_RATE <= self.sample_rate <= audio.MAX_RATE:
            raise BadInput(f"sample rate {self.sample_rate} Hz is outside {audio.MIN_RATE}..{audio.MAX_RATE} Hz")
        if not MIN_RATE <= self.speed <= MAX_RATE:
            raise BadInput(f"rate {self.speed:g} is outside {MIN_RATE:g}..{MAX_RATE:g} (1 is the voice's own pace)")
        if not abs(self.semitones) <= MAX_PITCH_ST:
            raise BadInput(f"pitch {self.semitones:+g} semitones is beyond +/-{MAX_PITCH_ST:g}")
        named_style(self.style)
        loudness.preset(self.loudness)

    @property
    def speed(self) -> float:
        return 1.0 if self.rate is None else float(self.rate)

    @property
    def semitones(self) -> float:
        return 0.0 if self.pitch is None else float(self.pitch)

    @property
    def encoded_as(self) -> str:
        """The file format the gate checks: pcm is checked as the WAV it is cut from."""
        return "wav" if self.format == PCM else self.format
