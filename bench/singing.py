"""Singing from scores: pitch, timing, voicing, intelligibility, speed and the mark, per song and voice.

Six public-domain melodies are written by this script, three as MusicXML (music21) and three as
MIDI with lyric events (mido), and read back through voicekit's own readers: Twinkle Twinkle,
Happy Birthday, Amazing Grace (melismas, a ritardando), Ode to Joy (van Dyke's words), My Bonnie
(a sixth up at the start) and the Star-Spangled Banner's first line (an octave and a tenth in one
phrase, a tempo change). Each is sung by heart, by joe (an octave down) and by a clone (a profile
enrolled from heart's readings, so it is fitted on heart's frames) through `Studio.sing`, the
released bytes decoded, and measured against the score:
- pitch: |f0 - note| in cents over each note's voiced frames (harvest, 10 ms; the first 80 ms and
  the last 40 ms of a note left out: the portamento and the next consonant), median and p90; the
  share of notes whose median f0 is within 50 cents;
- timing: where each syllable's vowel starts (its 700-2000 Hz energy, F1 and F2, first reaches half
  the note's median; a wider band counts the voiced consonants before the vowel, l, w, m, n, as
  vowel) against the note's start, median |error|, over the syllables where that energy rises
  (a vowel straight after a vowel, "are you", has no onset to find);
- voicing: the share of frames voiced against the score (inside notes, 100 ms in from the edges)
  and unvoiced (inside rests of 0.3 s or more, 100 ms in);
- intelligibility: pocketsphinx word error rate of the sung lyrics and of the same lyrics spoken by
  the same voice;
- speed: seconds of song per second of `Studio.sing` on one core (consent check to gated bytes);
- the watermark: `Studio.detect` on the released file names its mark.
Writes bench/results/singing.json and prints the table. Not a test: nothing is asserted.
Usage: python bench/singing.py
"""
from __future__ import annotations

import json
import platform
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import one_core

one_core.single_threaded()

import numpy as np  # noqa: E402
from sung_pitch import measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
R = None  # a rest
# (title, beats per minute, tempo changes [(beat, bpm)], format, [(pitch, beats, lyric)])
SONGS = [
    ("twinkle", 100, [], "musicxml", [
        ("C4", 1, "Twin-"), ("C4", 1, "kle"), ("G4", 1, "twin-"), ("G4", 1, "kle"), ("A4", 1, "lit-"), ("A4", 1, "tle"),
        ("G4", 2, "star"), ("F4", 1, "how"), ("F4", 1, "I"), ("E4", 1, "won-"), ("E4", 1, "der"), ("D4", 1, "what"),
        ("D4", 1, "you"), ("C4", 2, "are")]),
    ("birthday", 110, [], "midi", [
        ("G4", 0.75, "Hap-"), ("G4", 0.25, "py"), ("A4", 1, "birth-"), ("G4", 1, "day"), ("C5", 1, "to"),
        ("B4", 2, "you"), (R, 1, ""), ("G4", 0.75, "hap-"), ("G4", 0.25, "py"), ("A4", 1, "birth-"), ("G4", 1, "day"),
        ("D5", 1, "to"), ("C5", 2, "you")]),
    ("amazing-grace", 84, [(12, 66)], "musicxml", [
        ("D4", 1, "A-"), ("G4", 2, "ma-"), ("B4", 0.5, "_"), ("G4", 0.5, "_"), ("B4", 2, "zing"), ("A4", 1, "grace"),
        ("G4", 2, "how"), ("E4", 1, "sweet"), ("D4", 2, "the"), (R, 1, ""), ("D4", 1, "sound"), ("G4", 2, "that"),
        ("B4", 0.5, "_"), ("G4", 0.5, "_"), ("B4", 2, "saved"), ("A4", 1, "a"), ("D5", 3, "wretch")]),
    ("ode-to-joy", 112, [], "midi", [
        ("E4", 1, "Joy-"), ("E4", 1, "ful"), ("F4", 1, "joy-"), ("G4", 1, "ful"), ("G4", 1, "we"), ("F4", 1, "a-"),
        ("E4", 1, "dore"), ("D4", 1, "thee"), ("C4", 1, "God"), ("C4", 1, "of"), ("D4", 1, "glo-"), ("E4", 1, "ry"),
        ("E4", 1.5, "Lord"), ("D4", 0.5, "of"), ("D4", 2, "love")]),
    ("my-bonnie", 96, [], "musicxml", [
        ("G4", 1, "My"), ("E5", 1.5, "Bon-"), ("D5", 0.5, "nie"), ("C5", 1, "lies"), ("D5", 1, "o-"), ("C5", 1, "ver"),
        ("A4", 1, "the"), ("G4", 1, "o-"), ("E4", 3, "cean")]),
    ("star-spangled", 88, [(7, 72)], "midi", [
        ("G4", 0.75, "O"), ("E4", 0.25, "_"), ("C4", 1, "say"), ("E4", 1, "can"), ("G4", 1, "you"), ("C5", 2, "see"),
        ("E5", 0.75, "by"), ("D5", 0.25, "the"), ("C5", 1, "dawn's"), ("E4", 1, "ear-"), ("F#4", 1, "ly"),
        ("G4", 2, "light")]),
]

# Held out: written after the renderer's constants were set on the songs above, and never used to
# change them; reported apart (heart and joe only).
HELD_OUT = [
    ("brother-john", 120, [], "midi", [
        ("F4", 1, "Are"), ("G4", 1, "you"), ("A4", 1, "sleep-"), ("F4", 1, "ing"), ("F4", 1, "are"), ("G4", 1, "you"),
        ("A4", 1, "sleep-"), ("F4", 1, "ing"), ("A4", 1, "Bro-"), ("Bb4", 1, "ther"), ("C5", 2, "John"), ("A4", 1, "Bro-"),
        ("Bb4", 1, "ther"), ("C5", 2, "John")]),
    ("auld-lang-syne", 80, [(8, 70)], "musicxml", [
        ("C4", 1, "Should"), ("F4", 1.5, "auld"), ("E4", 0.5, "ac-"), ("F4", 1, "quain-"), ("A4", 1, "tance"),
        ("G4", 1.5, "be"), ("F4", 0.5, "for-"), ("G4", 1, "got"), ("A4", 0.5, "and"), ("G4", 0.5, "_"),
        ("F4", 1.5, "nev-"), ("F4", 0.5, "er"), ("A4", 1, "brought"), ("C5", 1, "to"), ("D5", 3, "mind")]),
    ("london-bridge", 116, [], "musicxml", [
        ("G4", 1.5, "Lon-"), ("A4", 0.5, "don"), ("G4", 1, "bridge"), ("F4", 1, "is"), ("E4", 1, "fall-"), ("F4", 1, "ing"),
        ("G4", 2, "down"), (R, 1, ""), ("D4", 1, "fall-"), ("E4", 1, "ing"), ("F4", 2, "down"), ("E4", 1, "fall-"),
        ("F4", 1, "ing"), ("G4", 2, "down")]),
]


def write_score(folder: Path, title: str, bpm: float, changes, fmt: str, notes) -> Path:
    """The song as a MusicXML or MIDI file, the way a musician's tool would write it."""
    if fmt == "musicxml":
        from music21 import metadata, note, stream, tempo

        part = stream.Part()
        part.partName = "Voice"
        beat = 0.0
        marks = dict(changes)
        part.insert(0, tempo.MetronomeMark(number=bpm))
        for pitch, beats, lyric in notes:
            if beat in marks:
                part.insert(beat, tempo.MetronomeMark(number=marks[beat]))
            n = note.Rest(quarterLength=beats) if pitch is None else note.Note(pitch, quarterLength=beats)
            if pitch is not None and lyric and lyric != "_":
                n.addLyric(lyric.rstrip("-"))
                n.lyrics[0].syllabic = "begin" if lyric.endswith("-") else "single"
            part.insert(beat, n)
            beat += beats
        score = stream.Score()
        score.metadata = metadata.Metadata(title=title)
        score.insert(0, part)
        path = folder / f"{title}.musicxml"
        score.write("musicxml", fp=str(path))
        return path
    import mido

    from voicekit.singing.score import midi_pitch

    per_beat = 480
    events = [(0, mido.MetaMessage("track_name", name="Voice")), (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))]
    events += [(int(b * per_beat), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(t))) for b, t in changes]
    beat = 0.0
    for pitch, beats, lyric in notes:
        if pitch is not None:
            start, end = int(beat * per_beat), int((beat + beats) * per_beat)
            if lyric:
                events.append((start, mido.MetaMessage("lyrics", text=lyric)))
            events.append((start, mido.Message("note_on", note=midi_pitch(pitch, title), velocity=80)))
            events.append((end, mido.Message("note_off", note=midi_pitch(pitch, title), velocity=0)))
        beat += beats
    events.sort(key=lambda e: (e[0], e[1].type == "note_on"))
    track, last = mido.MidiTrack(), 0
    for tick, message in events:
        track.append(message.copy(time=tick - last))
        last = tick
    song = mido.MidiFile(ticks_per_beat=per_beat)
    song.tracks.append(track)
    path = folder / f"{title}.mid"
    song.save(str(path))
    return path


def enrolled_clone(studio, folder: Path) -> str:
    """A clone profile with the sing scope, from heart reading its own consent challenge."""
    import soundfile as sf

    heart = studio.engine("heart")
    sf.write(folder / "ref.wav", heart.synthesize(
        "The old lighthouse keeper climbed the winding stairs every evening to light the lamp. "
        "Rain had fallen all week, and the river was running high under the stone bridge. "
        "She packed a small bag with bread, cheese and apples before setting out at dawn."), heart.sample_rate)
    challenge = studio.consent_challenge("Mary Jones", nonce=("harbor", "pencil", "tiger", "violin"))
    sf.write(folder / "consent.wav", heart.synthesize(challenge.phrase), heart.sample_rate)
    return studio.enroll(challenge.challenge_id, folder / "consent.wav", [folder / "ref.wav"],
                         scopes=("tts", "sing")).voice_id


def main() -> None:
    from consent.statement import StatementChecker
    from voicekit import Studio
    from voicekit.audio import resample
    from voicekit.cloning.fit import word_errors
    from voicekit.singing import read_score
    from voicekit.singing.render import LEAD_S

    started = time.time()
    checker = StatementChecker()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        studio = Studio(home=folder / "home")
        voices = [("heart", 0), ("joe", -12), (enrolled_clone(studio, folder), 0)]
        studio.sing(read_score(b'{"notes": [{"pitch": 62, "start": 0, "duration": 1, "lyric": "la"}]}', "json"),
                    voice="joe", transpose=-12)  # load every engine before timing
        anchor = sinsy_anchor(folder)
        for title, bpm, changes, fmt, notes in SONGS:
            path = write_score(folder, title, bpm, changes, fmt, notes)
            score = read_score(path.read_bytes(), fmt)
            lyrics = " ".join(w.text for p in __import__("voicekit.singing.plan", fromlist=["p"]).phrases(score)
                              for w in p.words).lower()
            for voice, transpose in voices:
                t = time.perf_counter()
                result = studio.sing(path, voice=voice, transpose=transpose)
                seconds = time.perf_counter() - t
                sung_s = len(result.audio) / result.sample_rate
                engine = studio.voices.for_profile(studio.registry.check_at(voice, studio.clock()))
                spoken = resample(engine.synthesize(lyrics), engine.sample_rate, 16000)
                wer_sung = word_errors(lyrics, checker.transcribe(resample(result.audio, result.sample_rate, 16000)))
                wer_spoken = word_errors(lyrics, checker.transcribe(spoken))
                row = {"song": title, "format": fmt, "voice": "clone" if voice.startswith("profile:") else voice,
                       "transpose": transpose, **measure(result, score.transposed(transpose), LEAD_S),
                       "wer_sung": round(wer_sung[0] / wer_sung[1], 3),
                       "wer_spoken": round(wer_spoken[0] / wer_spoken[1], 3),
                       "x_real_time": round(sung_s / seconds, 1),
                       "mark_found": studio.detect(result.encoded).mark_id == result.mark_id}
                rows.append(row)
                print(json.dumps(row), flush=True)
    held_out = []
    with tempfile.TemporaryDirectory() as tmp:
        studio = Studio(home=Path(tmp) / "home")
        for title, bpm, changes, fmt, notes in HELD_OUT:
            path = write_score(Path(tmp), title, bpm, changes, fmt, notes)
            score = read_score(path.read_bytes(), fmt)
            for voice, transpose in (("heart", 0), ("joe", -12)):
                result = studio.sing(path, voice=voice, transpose=transpose)
                held_out.append({"song": title, "voice": voice, **measure(result, score.transposed(transpose), LEAD_S),
                                 "mark_found": studio.detect(result.encoded).mark_id == result.mark_id})
                print(json.dumps(held_out[-1]), flush=True)
    summary = {}
    for voice in ("heart", "joe", "clone"):
        mine = [r for r in rows if r["voice"] == voice]
        summary[voice] = {key: round(float(np.nanmedian([r[key] for r in mine])), 3) for key in (
            "pitch_median_cents", "pitch_p90_cents", "notes_within_50_cents", "vowel_onset_median_ms",
            "voicing_error", "wer_sung", "wer_spoken", "x_real_time")} | {
            "marks_found": f"{sum(r['mark_found'] for r in mine)}/{len(mine)}"}
    result = {"date": datetime.now(timezone.utc).date().isoformat(), "machine": platform.platform(),
              "rows": rows, "summary_median_over_songs": summary, "held_out": held_out, "anchor_sinsy": anchor,
              "seconds": round(time.time() - started)}
    (ROOT / "bench" / "results" / "singing.json").write_text(json.dumps(result, indent=2) + "\n")
    keys = ["pitch_median_cents", "pitch_p90_cents", "notes_within_50_cents", "vowel_onset_median_ms", "voicing_error",
            "wer_sung", "wer_spoken", "x_real_time", "marks_found"]
    print(f"{'voice':<8}" + "".join(f"{k:>24}" for k in keys))
    for voice, s in summary.items():
        print(f"{voice:<8}" + "".join(f"{s[k]!s:>24}" for k in keys))
    if anchor["status"] == "measured":
        s = anchor["summary_median_over_songs"]
        print(f"{'sinsy':<8}" + "".join(f"{s.get(k, '-')!s:>24}" for k in keys))
    else:
        print("sinsy:", anchor["status"])


def sinsy_anchor(folder: Path) -> dict:
    """The anchor: Sinsy (pysinsy, built from its sdist by `bash bench/setup.sh`, with the Japanese
    HTS singer it ships, nitech_jp_song070_f001, CC BY 3.0) sings the same melodies, every note on
    the kana ら, after a two-beat rest (Sinsy, like us, sounds a consonant before the beat)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pysinsy
    except ImportError as e:
        return {"status": f"pysinsy is not installed ({e}); `bash bench/setup.sh` builds it"}
    from types import SimpleNamespace

    from voicekit.singing import read_score

    rows = []
    for title, bpm, changes, _, notes in SONGS:
        kana = [(R, 2, "")] + [(p, b, "ら" if p is not None else "") for p, b, _ in notes]
        path = write_score(folder, f"{title}-kana", bpm, [(b + 2, t) for b, t in changes], "musicxml", kana)
        t = time.perf_counter()
        wave, rate = pysinsy.synthesize(str(path))
        seconds = time.perf_counter() - t
        score = read_score(path.read_bytes(), "musicxml")
        rows.append({"song": title, **measure(SimpleNamespace(audio=wave.astype(np.float32) / 32768, sample_rate=rate),
                                              score, 0.0), "x_real_time": round(len(wave) / rate / seconds, 1)})
    summary = {key: round(float(np.nanmedian([r[key] for r in rows])), 3) for key in rows[0] if key != "song"}
    return {"status": "measured", "rows": rows, "summary_median_over_songs": summary}


if __name__ == "__main__":
    one_core.pin_to_one_core()
    main()
