"""Score files into `Score`: MusicXML (.musicxml, .xml, .mxl) through music21, MIDI files with lyric
meta-events (.mid, .midi) through mido, and voicekit's JSON form (.json). One part and one verse
are sung: `part` names it (default: the first with lyrics), `verse` picks the lyric line (1-based).
"""
from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

from voicekit.errors import ScoreError
from voicekit.singing.score import MELISMA, Note, Score, from_json, tempo_map

SCORE_FORMATS = {".musicxml": "musicxml", ".xml": "musicxml", ".mxl": "musicxml", ".mid": "midi", ".midi": "midi",
                 ".json": "json"}
MAX_SCORE_BYTES = 5_000_000


def score_format(name: str) -> str:
    """The format a file name's extension says; raises ScoreError for any other."""
    fmt = SCORE_FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        raise ScoreError(f"{Path(name).name or name!r} is not a score file: use "
                         + ", ".join(sorted(SCORE_FORMATS)))
    return fmt


def read_score(data: bytes, fmt: str, part: str | None = None, verse: int = 1) -> Score:
    """The chosen part and verse of a score file's bytes in `fmt` (musicxml, midi, json), checked
    (Score.checked). Raises ScoreError for anything that cannot be sung as written."""
    if len(data) > MAX_SCORE_BYTES:
        raise ScoreError(f"the score file has {len(data)} bytes; at most {MAX_SCORE_BYTES} are read")
    if verse < 1:
        raise ScoreError(f"verse {verse}: verses count from 1")
    if fmt == "json":
        score = from_json(data)
        if part is not None and score.part and part != score.part:
            raise ScoreError(f"the score has no part {part!r} (it has {score.part!r})")
        return score.checked()
    if fmt == "midi":
        return _from_midi(data, part).checked()
    if fmt == "musicxml":
        return _from_musicxml(data, part, verse).checked()
    raise ScoreError(f"unknown score format {fmt!r}")


def _from_midi(data: bytes, part: str | None) -> Score:
    import mido

    try:
        song = mido.MidiFile(file=io.BytesIO(data))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
        raise ScoreError(f"not a MIDI file mido can read: {e}") from e
    per_beat = song.ticks_per_beat
    tempo: list[tuple[float, float]] = []
    tracks = []
    for number, track in enumerate(song.tracks, 1):
        name, tick, open_notes, lyrics, notes = f"track {number}", 0, {}, {}, []
        for message in track:
            tick += message.time
            if message.type == "track_name" and message.name.strip():
                name = message.name.strip()
            elif message.type == "set_tempo":
                tempo.append((tick / per_beat, mido.tempo2bpm(message.tempo)))
            elif message.type in ("lyrics", "text") and message.text.strip() and not message.text.startswith("@"):
                lyrics.setdefault(tick, message.text.strip())
            elif message.type == "note_on" and message.velocity > 0:
                open_notes[message.note] = (tick, message.velocity)
            elif message.type in ("note_off", "note_on") and message.note in open_notes:
                start, velocity = open_notes.pop(message.note)
                notes.append((start, tick, message.note, velocity))
        tracks.append((name, notes, lyrics))
    chosen = _chosen_part([(name, bool(lyrics) and bool(notes)) for name, notes, lyrics in tracks], part)
    name, raw, lyrics = tracks[chosen]
    beats_per_measure = 4.0 * _first_time_signature(song)
    notes = tuple(Note(pitch, start / per_beat, (end - start) / per_beat, _midi_lyric(lyrics.get(start, "")), False,
                       int(start / per_beat // beats_per_measure) + 1, velocity / 127)
                  for start, end, pitch, velocity in sorted(raw) if end > start)
    return Score(notes, tempo_map(tempo), part=name)


def _midi_lyric(text: str) -> str:
    """Karaoke conventions: a leading "/" or "\\" starts a line, a trailing "-" continues the word."""
    text = text.lstrip("/\\").strip()
    return MELISMA if text in ("_", "~", "+") else text


def _first_time_signature(song) -> float:
    for track in song.tracks:
        for message in track:
            if message.type == "time_signature":
                return message.numerator / message.denominator
    return 1.0


def _from_musicxml(data: bytes, part: str | None, verse: int) -> Score:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import music21
        from music21 import chord, harmony, tempo as m21tempo

    suffix = ".mxl" if data[:2] == b"PK" else ".musicxml"
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(data)
        handle.flush()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = music21.converter.parse(handle.name, format="musicxml", forceSource=True)
        except Exception as e:  # music21 raises many kinds (its own, XML, zip, index) for a bad file
            raise ScoreError(f"not a MusicXML score music21 can read: {e}") from e
    parts = list(getattr(parsed, "parts", [])) or [parsed]
    names = [(p.partName or p.id or f"part {i + 1}") for i, p in enumerate(parts)]
    flat = [p.flatten() for p in parts]
    chosen = _chosen_part([(n, any(getattr(x, "lyrics", None) for x in f.notes)) for n, f in zip(names, flat)], part)
    source, name = flat[chosen], str(names[chosen])
    tempo = [(float(mark.offset), float(mark.getQuarterBPM()))
             for mark in parsed.flatten().getElementsByClass(m21tempo.MetronomeMark) if mark.number]
    notes = []
    for element in source.notes:
        if isinstance(element, harmony.ChordSymbol):  # a lead sheet's chord names are not sung
            continue
        measure = element.measureNumber or 1
        if isinstance(element, chord.Chord):
            raise ScoreError(f"part {name!r}, measure {measure}: a chord; one voice sings one note at a time")
        lyric = _verse_lyric(element.lyrics, verse)
        tie = element.tie is not None and element.tie.type in ("start", "continue")
        loudness = element.volume.getRealized(useDynamicContext=True, useVelocity=True, useArticulations=False)
        notes.append(Note(element.pitch.midi, float(element.offset), float(element.quarterLength), lyric, tie, measure,
                          float(loudness)))
    if verse > 1 and not any(n.lyric for n in notes):
        raise ScoreError(f"part {name!r} has no verse {verse}")
    return Score(tuple(notes), tempo_map(tempo), title=str(parsed.metadata.title or "") if parsed.metadata else "",
                 part=name)


def _verse_lyric(lyrics, verse: int) -> str:
    chosen = next((lyr for lyr in lyrics if (lyr.number or 1) == verse), None)
    if chosen is None or not (chosen.text or "").strip():
        return ""
    text = chosen.text.strip()
    return text + "-" if chosen.syllabic in ("begin", "middle") else text


def _chosen_part(parts: list[tuple[str, bool]], wanted: str | None) -> int:
    """The index of the part named `wanted`, or of the first part with lyrics."""
    if wanted is not None:
        for i, (name, _) in enumerate(parts):
            if name == wanted:
                return i
        raise ScoreError(f"the score has no part {wanted!r}; its parts: {', '.join(repr(n) for n, _ in parts)}")
    for i, (_, has_lyrics) in enumerate(parts):
        if has_lyrics:
            return i
    raise ScoreError("no part of the score has lyrics: every note to be sung needs its syllable")
