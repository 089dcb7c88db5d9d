"""A song as MusicXML, both ways, through music21.

Out: the melody with its lyrics (syllabic begin/middle/end), a chord symbol at every bar, metre,
key and tempo, so a musician can edit the tune or the chords and give the file back (`--score`).

In: a full score: the melody is the first part with lyrics (or the one named), read as singing
reads it (voicekit.singing.readers); chord symbols in any part give the harmony bar by bar (the
symbol in force at each bar's start); every other part with notes is accompaniment, played by its
MIDI instrument (a piano where it names none) instead of the style's bass and chords.
"""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass

from voicekit.errors import SongError
from voicekit.music.melody import Composition
from voicekit.music.tracks import Hit, Track
from voicekit.music.style import METRES
from voicekit.singing.readers import read_score
from voicekit.singing.score import MELISMA, Score

_FIRST_ACCOMPANIMENT_CHANNEL = 4


@dataclass(frozen=True)
class FullScore:
    """chords: one chord name per bar (None where the score gives none yet); key/mode: the key
    signature's; accompaniment: its other parts as tracks."""

    melody: Score
    chords: tuple[str | None, ...]
    metre: str
    key: str
    mode: str
    accompaniment: tuple[Track, ...]


def musicxml(song: Composition) -> bytes:
    """The song's melody and chords as a MusicXML file's bytes."""
    m21 = _music21()
    from music21 import harmony, key as m21key, meter, metadata, note, stream, tempo

    melody, chords, title = song.melody, song.chords, song.title
    metre, key, mode = song.style.metre, song.style.key, song.style.mode
    beats = METRES[metre]
    part = stream.Part(id="melody")
    part.partName = "melody"
    part.insert(0, meter.TimeSignature(metre))
    part.insert(0, m21key.Key(key.replace("b", "-"), mode))
    part.insert(0, tempo.MetronomeMark(number=melody.tempo[0][1]))
    for bar, name in enumerate(chords):
        if name is not None and (bar == 0 or name != chords[bar - 1]):
            part.insert(bar * beats, harmony.ChordSymbol(_chord_name(name, key, mode)))
    previous_continues = False
    for n in melody.notes:
        sung = note.Note(n.pitch, quarterLength=n.duration)
        if n.lyric and n.lyric != MELISMA:
            continues = n.lyric.endswith("-")
            text = n.lyric.rstrip("-")
            syllabic = ("middle" if continues else "end") if previous_continues else ("begin" if continues else "single")
            sung.lyrics.append(note.Lyric(text=text, syllabic=syllabic, number=1))
            previous_continues = continues
        part.insert(n.start, sung)
    score = stream.Score(id="song")
    score.insert(0, metadata.Metadata(title=title or "voicekit song"))
    score.insert(0, part)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filled = score.makeNotation()
        exporter = m21.musicxml.m21ToXml.GeneralObjectExporter(filled)
        return exporter.parse()


def _chord_name(figure: str, key: str, mode: str) -> str:
    """A Roman numeral in the key as the chord name music21 writes (vi in G -> Em)."""
    from music21 import harmony, key as m21key, roman

    if figure[:1] in "ABCDEFG":
        return figure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = roman.RomanNumeral(figure, m21key.Key(key.replace("b", "-"), mode))
        return harmony.chordSymbolFigureFromChord(read).replace("-", "b")


def read_full_score(data: bytes, part: str | None = None) -> FullScore:
    """Raises ScoreError (SongError for a metre songs do not play)."""
    melody = read_score(data, "musicxml", part)
    m21 = _music21()
    from music21 import harmony, key as m21key, meter

    with tempfile.NamedTemporaryFile(suffix=".mxl" if data[:2] == b"PK" else ".musicxml") as handle:
        handle.write(data)
        handle.flush()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = m21.converter.parse(handle.name, format="musicxml", forceSource=True)
    flat = parsed.flatten()
    signatures = list(flat.getElementsByClass(meter.TimeSignature))
    metre = signatures[0].ratioString if signatures else "4/4"
    if metre not in METRES:
        raise SongError(f"the score is in {metre}; songs are played in {', '.join(METRES)}")
    beats = METRES[metre]
    signatures = list(flat.getElementsByClass(m21key.KeySignature))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysed = parsed.analyze("key")  # the mode, where the signature does not say it
        if not signatures:
            found = analysed
        elif isinstance(signatures[0], m21key.Key):
            found = signatures[0]
        else:
            found = signatures[0].asKey(analysed.mode if analysed.mode in ("major", "minor") else "major")
    key_name = found.tonic.name.replace("-", "b")
    symbols = sorted((float(s.offset), s.figure.replace("-", "b")) for s in flat.getElementsByClass(harmony.ChordSymbol)
                     if not isinstance(s, harmony.NoChord))
    last_beat = max(n.end for n in melody.notes)
    bars = int(-(-last_beat // beats))
    chords: list[str | None] = []
    for bar in range(bars):
        in_force = [name for at, name in symbols if at <= bar * beats + 1e-6]
        chords.append(in_force[-1] if in_force else (symbols[0][1] if symbols else None))
    parts = list(getattr(parsed, "parts", []))
    accompaniment = []
    for i, p in enumerate(parts):
        name = p.partName or p.id or f"part {i + 1}"
        if name == melody.part or not list(p.flatten().notes):
            continue
        accompaniment.append(_accompaniment(p, str(name), _FIRST_ACCOMPANIMENT_CHANNEL + len(accompaniment)))
    return FullScore(melody, tuple(chords), metre, key_name, found.mode if found.mode in ("major", "minor") else "major",
                     tuple(accompaniment[:8]))


def _accompaniment(part, name: str, channel: int) -> Track:
    from music21 import chord, instrument

    found = part.getInstrument(returnDefault=False)
    program = getattr(found, "midiProgram", None) if isinstance(found, instrument.Instrument) else None
    hits = []
    for element in part.flatten().notes:
        loud = element.volume.getRealized(useDynamicContext=True, useVelocity=True, useArticulations=False)
        pitches = element.pitches if isinstance(element, chord.Chord) else (element.pitch,)
        hits += [Hit(float(element.offset), float(element.quarterLength), p.midi, max(1, min(127, round(loud * 127))))
                 for p in pitches]
    return Track(name, "chords", channel if channel != 9 else 15, program if program is not None else 0, tuple(hits))


def _music21():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import music21
    return music21

