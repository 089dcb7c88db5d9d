"""MIDI tracks to stereo audio with FluidSynth (pyfluidsynth over Debian's libfluidsynth3) and a
General MIDI SoundFont: Debian's fluid-soundfont-gm (FluidR3_GM, MIT licence) unless
VOICEKIT_SOUNDFONT names another .sf2/.sf3 file.

Rendering is offline and deterministic: no audio driver is started, FluidSynth's own reverb and
chorus are off (the mixer adds reverb where the style wants it), and samples are pulled between
events at exact sample positions.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from pathlib import Path

import numpy as np

from voicekit.errors import EngineUnavailable
from voicekit.music.tracks import DRUM_CHANNEL, Track

DEBIAN_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TAIL_S = 2.5  # rendered after the last note ends, for the instruments' release
_GAIN = 0.4


def soundfont() -> Path:
    """The SoundFont to play: VOICEKIT_SOUNDFONT, else Debian's GM font; EngineUnavailable if missing."""
    configured = os.environ.get("VOICEKIT_SOUNDFONT")
    path = Path(configured) if configured else DEBIAN_SOUNDFONT
    if not path.is_file():
        raise EngineUnavailable(f"no SoundFont at {path}: install Debian's fluid-soundfont-gm (make setup does), "
                                "or set VOICEKIT_SOUNDFONT to a General MIDI .sf2 file")
    return path


def render(tracks: list[Track], tempo: float, sample_rate: int, length_s: float) -> np.ndarray:
    """The tracks played together, float32 (n, 2) of exactly `length_s` seconds (notes still
    sounding at the end are cut there; give a length with room for the tail)."""
    fluidsynth = _library()
    synth = fluidsynth.Synth(gain=_GAIN, samplerate=float(sample_rate))
    try:
        for name, value in (("synth.reverb.active", 0), ("synth.chorus.active", 0)):
            synth.setting(name, value)
        font = synth.sfload(str(soundfont()))
        if font < 0:
            raise EngineUnavailable(f"FluidSynth could not load the SoundFont {soundfont()}")
        for track in tracks:
            bank = 128 if track.channel == DRUM_CHANNEL else 0
            synth.program_select(track.channel, font, bank, track.program)
        events = sorted((round((h.start + (h.length if off else 0.0)) * 60.0 / tempo * sample_rate), off, t.channel,
                         h.pitch, h.velocity) for t in tracks for h in t.hits for off in (1, 0))
        total = round(length_s * sample_rate)
        blocks, now = [], 0
        for at, off, channel, pitch, velocity in events:
            at = min(at, total)
            if at > now:
                blocks.append(synth.get_samples(at - now))
                now = at
            if off:
                synth.noteoff(channel, pitch)
            else:
                synth.noteon(channel, pitch, velocity)
        if total > now:
            blocks.append(synth.get_samples(total - now))
    finally:
        synth.delete()
    pcm = np.concatenate(blocks) if blocks else np.zeros(0, np.int16)
    return (pcm.reshape(-1, 2).astype(np.float32) / 32768.0)[:total]


_IMPORT_LOCK = threading.Lock()


def _library():
    """pyfluidsynth, imported once: its import prints where it found the library when CI is set, so
    stdout is swapped for the import, under a lock because stems are rendered in threads and a swap
    undone out of order would leave stdout swallowed for good."""
    try:
        with _IMPORT_LOCK:
            if "fluidsynth" not in sys.modules:
                with contextlib.redirect_stdout(io.StringIO()):
                    import fluidsynth  # noqa: F401
            import fluidsynth
    except ImportError as e:
        raise EngineUnavailable("FluidSynth's library is missing: install Debian's libfluidsynth3 "
                                f"(make setup does) ({e})") from e
    return fluidsynth
