"""The backing band for a composition: drums, bass and chords (an instrument plus a pad) as MIDI
notes, from the style's groove and chords; and the whole song as a Standard MIDI File (the melody
with its lyrics as lyric meta-events, which `voicekit sing` reads back, plus the backing tracks).

Velocities vary a little around each groove's accents, from the song's seed, so a fixed seed
gives the same file byte for byte.
"""
from __future__ import annotations

import io
import numpy as np

from voicekit.music.melody import Composition
from voicekit.music.tracks import DRUM_CHANNEL, Hit, Track
from voicekit.music.style import Style, chord_pitches, tonic_pitch_class

KICK, SIDE_STICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH = 36, 37, 38, 42, 46, 49
# groove -> drum -> {eighth of the bar: velocity}
GROOVES: dict[str, dict[int, dict[int, int]]] = {
    "ballad": {KICK: {0: 88, 5: 58}, SIDE_STICK: {4: 72}, CLOSED_HAT: {0: 48, 2: 40, 4: 46, 6: 40}},
    "pop": {KICK: {0: 100, 3: 78, 4: 94}, SNARE: {2: 100, 6: 100},
            CLOSED_HAT: {i: (72 if i % 2 == 0 else 52) for i in range(8)}},
    "waltz": {KICK: {0: 92}, SIDE_STICK: {2: 60, 4: 56}, CLOSED_HAT: {0: 50, 2: 44, 4: 44}},
    "lofi": {KICK: {0: 86, 5: 70}, SNARE: {2: 80, 6: 80}, CLOSED_HAT: {i: (52 if i % 2 == 0 else 40) for i in range(8)}},
}
# groove -> bass notes per bar: (eighth, length in eighths, interval above the root in semitones)
BASS_LINES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "ballad": ((0, 4, 0), (4, 4, 7)),
    "pop": ((0, 2, 0), (3, 1, 0), (4, 2, 0), (6, 2, 7)),
    "waltz": ((0, 2, 0), (2, 2, 7), (4, 2, 7)),
    "lofi": ((0, 3, 0), (3, 2, 7), (5, 3, 12)),
}


def backing(song: Composition) -> list[Track]:
    """The drum, bass, chord-instrument and pad tracks of `song`; for a score with accompaniment
    parts, the drums and those parts (they are its bass and chords)."""
    style = song.style
    rng = np.random.default_rng(song.seed)
    bpb, slots = style.beats_per_bar, 2 * style.beats_per_bar
    outro = len(song.chords) - 2
    section_starts = {s.first_bar for s in song.sections}
    drums: list[Hit] = []
    bass: list[Hit] = []
    keys: list[Hit] = []
    pad: list[Hit] = []
    for bar, chord in enumerate(song.chords):
        at = bar * bpb
        pcs = chord_pitches(chord, style.key, style.mode) if chord is not None else ()
        if bar >= outro:  # the ending: one chord rung out over a crash
            if bar == outro:
                drums += [Hit(at, 1.0, CRASH, 90), Hit(at, 1.0, KICK, 90)]
                if pcs:
                    bass.append(Hit(at, bpb * 2.0, _bass_root(pcs[0]), 80))
                    keys += [Hit(at, bpb * 2.0, p, 70) for p in _voicing(pcs, 55)]
                    pad += [Hit(at, bpb * 2.0, p, 50) for p in _voicing(pcs, 64)]
            continue
        if bar in section_starts or bar == 0:
            drums.append(Hit(at, 1.0, CRASH, 84))
        for drum, pattern in GROOVES[style.groove].items():
            for eighth, velocity in pattern.items():
                if eighth < slots:
                    drums.append(Hit(at + _swung(eighth, style), 0.25, drum, _humanised(velocity, rng)))
        if not pcs:
            continue
        for eighth, length, interval in BASS_LINES[style.groove]:
            if eighth < slots:
                bass.append(Hit(at + _swung(eighth, style), length / 2 * 0.9, _bass_root(pcs[0]) + interval,
                                _humanised(84, rng)))
        keys += _keys(pcs, at, style, rng)
        pad += [Hit(at, bpb * 0.98, p, 44) for p in _voicing(pcs, 64)]
    kit = Track("drums", "drums", DRUM_CHANNEL, 0, tuple(drums))
    if song.accompaniment:
        return [kit, *song.accompaniment]
    return [kit,
            Track("bass", "bass", 1, style.bass_program, tuple(bass)),
            Track("keys", "chords", 2, style.keys_program, tuple(keys)),
            Track("pad", "chords", 3, style.pad_program, tuple(pad))]


def _keys(pcs: tuple[int, ...], at: float, style: Style, rng: np.random.Generator) -> list[Hit]:
    voicing = _voicing(pcs, 55)
    bpb = style.beats_per_bar
    if style.keys_pattern == "arpeggio":
        order = [voicing[0] - 12, *voicing, *voicing[-2:0:-1]]
        return [Hit(at + i / 2, 0.9, order[i % len(order)], _humanised(62, rng)) for i in range(2 * bpb)]
    if style.keys_pattern == "strum":  # a guitar's strings a few milliseconds apart, down on each beat
        return [Hit(at + beat + 0.03 * k, 0.9 - 0.03 * k, p, _humanised(74 if beat == 0 else 60, rng))
                for beat in range(bpb) for k, p in enumerate([voicing[0] - 12, *voicing])]
    if style.keys_pattern == "offbeat":
        return [Hit(at + start, length, p, _humanised(60, rng)) for start, length in ((0.0, 1.4), (1.5 + style.swing / 2, 2.3))
                if start < bpb for p in voicing]
    return [Hit(at + beat, 0.85, p, _humanised(70 if beat % 2 == 0 else 58, rng)) for beat in range(bpb) for p in voicing]


def _voicing(pcs: tuple[int, ...], low: int) -> list[int]:
    """The chord's notes in close position, each the first of its pitch class at or above `low`."""
    return sorted(low + (pc - low) % 12 for pc in pcs)


def _bass_root(pc: int) -> int:
    return 36 + (pc - 36) % 12  # C2..B2


def _swung(eighth: int, style: Style) -> float:
    return eighth / 2 + (style.swing / 2 if eighth % 2 else 0.0)


def _humanised(velocity: int, rng: np.random.Generator) -> int:
    return int(np.clip(velocity + rng.integers(-6, 7), 1, 127))


def midi_file(song: Composition, tracks: list[Track]) -> bytes:
    """A type-1 Standard MIDI File: tempo, metre and key, the melody with lyric meta-events
    ("hap-" / "py" as the score has them), then each backing track on its own channel."""
    import mido

    per_beat = 480
    style = song.style
    out = mido.MidiFile(type=1, ticks_per_beat=per_beat)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name=song.title or "voicekit song", time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(style.tempo), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=style.beats_per_bar, denominator=4, time=0))
    meta.append(mido.MetaMessage("key_signature", key=_key_name(style), time=0))
    out.tracks.append(meta)
    melody = [(n.start, n.duration, n.pitch, 90, n.lyric) for n in song.melody.notes]
    out.tracks.append(_track(mido, "melody", 0, 53, melody, per_beat))
    for track in tracks:
        events = [(h.start, h.length, h.pitch, h.velocity, None) for h in track.hits]
        out.tracks.append(_track(mido, track.name, track.channel, track.program, events, per_beat))
    buffer = io.BytesIO()
    out.save(file=buffer)
    return buffer.getvalue()


def _track(mido, name: str, channel: int, program: int, notes: list, per_beat: int):
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    if channel != DRUM_CHANNEL:
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    events = []
    for start, length, pitch, velocity, lyric in notes:
        on, off = round(start * per_beat), round((start + length) * per_beat)
        if lyric:
            events.append((on, 1, mido.MetaMessage("lyrics", text=lyric)))
        events.append((on, 2, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
        events.append((off, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    return track


def _key_name(style: Style) -> str:
    names = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    name = names[tonic_pitch_class(style.key)]
    return name + ("m" if style.mode == "minor" else "")
