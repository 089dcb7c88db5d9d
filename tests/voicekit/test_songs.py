"""Songs: lyrics and a style (or a score) in, a marked stereo master out, with its vocal, stems,
MIDI and MusicXML; every check before any work. One short song is rendered for the module and
measured several ways; the composition tests need no rendering."""
import json
import subprocess
import sys

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from voicekit.errors import OutOfRange, SongError
from voicekit.music import arrange, mix, synth
from voicekit.music.lyrics import PRIMARY, parse_lyrics
from voicekit.music.melody import compose, metric_weight
from voicekit.music.style import PRESETS, chord_pitches, style_named
from voicekit.singing.ranges import RANGES
from voicekit.singing.readers import read_score

LYRICS = """[chorus]
Carry me over the water
[verse]
Lanterns are low on the harbour
[chorus]
Carry me over the water
"""


@pytest.fixture(scope="module")
def song(studio, tmp_path_factory):
    folder = tmp_path_factory.mktemp("song")
    result = studio.song(LYRICS, voice="heart", style="pop", seed=11, format="wav", stems=True, tempo=132)
    result.save(folder / "master.wav", folder / "stems")
    return result, folder


def _chorus_lines(composition):
    """(pitch, duration, beat within the bar) of each chorus line's notes, line by line."""
    bpb = composition.style.beats_per_bar
    lines, current, last_start = [], [], None
    for n in composition.notes:
        if n.section != "chorus":
            continue
        if last_start is not None and n.start - last_start > 2 * bpb:
            lines.append(current)
            current = []
        current.append((n.pitch, n.duration, n.start % bpb))
        last_start = n.start
    return lines + [current]


@pytest.mark.parametrize("style", sorted(PRESETS))
def test_a_chorus_repeats_its_melody_and_stresses_fall_on_beats(style):
    sheet = parse_lyrics(LYRICS + "[bridge]\nThe night is long and the river is wide\n[chorus]\nCarry me over the water\n")
    composition = compose(sheet, style_named(style), RANGES["heart"], seed=5)
    first, *again = _chorus_lines(composition)
    assert len(again) == 2 and all(line == first for line in again)
    verse = [n.pitch for n in composition.notes if n.section == "verse"]
    assert verse != [p for p, _, _ in first]
    low, high = RANGES["heart"]
    assert all(low <= n.pitch <= high for n in composition.notes)
    stressed = [n for n in composition.notes if n.stress == PRIMARY]
    on_a_beat = [n for n in stressed if metric_weight(round(n.start * 2), composition.style.beats_per_bar) >= 2]
    assert len(on_a_beat) >= 0.8 * len(stressed)
    last = [n for n in composition.notes if n.section == "chorus"][-1]  # a cadence on the tonic
    assert (last.pitch - {"C": 0, "G": 7, "D": 2, "A": 9}[composition.style.key]) % 12 == 0


def test_a_fixed_seed_gives_the_same_midi_and_another_seed_another_song():
    sheet = parse_lyrics(LYRICS)
    style = style_named("folk")

    def midi(seed):
        composition = compose(sheet, style, RANGES["joe"], seed=seed)
        return arrange.midi_file(composition, arrange.backing(composition))

    assert midi(3) == midi(3)
    assert midi(3) != midi(4)
    sung = read_score(midi(3), "midi")  # the melody track reads back with its lyrics
    assert [n.lyric for n in sung.notes][:3] == ["Car-", "ry", "me"]


@pytest.mark.parametrize("sheet, message", [
    (b"", "no words to sing"),
    (b"[verse]\n\n[chorus]\n", "no words to sing"),
    (b"[refrain]\nla la la\n", "unknown section [refrain]"),
    (b"[verse\nhello there\n", "is not a section header"),
    (b"\xff\xfe\x00h\x00i", "not text"),
    (b"\xc3\x28 broken utf-8\n", "not UTF-8"),
    ("[verse]\n" + " ".join(["everybody"] * 9) + "\n", "split it in two"),
    (b"[chorus]\n!!! ???\n", "has no words"),
])
def test_bad_lyrics_are_refused_before_any_work(studio, sheet, message):
    head = studio.ledger.head()
    with pytest.raises(SongError, match=message.replace("[", r"\[")):
        studio.song(sheet, voice="heart")
    assert studio.ledger.head() == head


@pytest.mark.parametrize("changes, message", [
    ({"style": "rock"}, "unknown style 'rock'"),
    ({"key": "H"}, "key 'H'"),
    ({"tempo": 400}, "outside 40-220"),
    ({"progression": "I V xyz IV"}, "chord 'xyz'"),
    ({"metre": "7/8"}, "time signature '7/8'"),
    ({"seed": -1}, "seed -1"),
    ({"format": "ogg"}, "format 'ogg'"),
    ({"sample_rate": 24000}, "not 24000"),
])
def test_unknown_styles_and_bad_settings_are_refused_before_any_work(studio, changes, message):
    head = studio.ledger.head()
    with pytest.raises(SongError, match=message):
        studio.song(LYRICS, voice="heart", **changes)
    assert studio.ledger.head() == head


def test_a_score_out_of_the_voices_range_is_refused_before_any_work(studio, tmp_path):
    from music21 import harmony, note, stream

    part = stream.Part()
    part.append(harmony.ChordSymbol("C"))
    for pitch, text in ((84, "too"), (86, "high")):  # C6, D6: above heart's range
        sung = note.Note(pitch, quarterLength=2)
        sung.lyric = text
        part.append(sung)
    part.write("musicxml", fp=str(tmp_path / "high.musicxml"))
    head = studio.ledger.head()
    with pytest.raises(OutOfRange, match="above its top"):
        studio.song(voice="heart", score=tmp_path / "high.musicxml")
    assert studio.ledger.head() == head


def test_the_master_meets_its_loudness_target_and_true_peak_ceiling(song):
    result, folder = song
    stereo, rate = sf.read(folder / "master.wav", dtype="float64")
    assert stereo.shape[1] == 2 and rate == 44100
    assert not np.allclose(stereo[:, 0], stereo[:, 1])  # really stereo: the chords are panned
    lufs = pyloudnorm.Meter(rate).integrated_loudness(stereo)
    assert abs(lufs - (-14.0)) <= 0.5
    oversampled = resample_poly(stereo, 4, 1, axis=0)
    assert 20 * np.log10(np.max(np.abs(oversampled))) <= -1.0 + 0.05
    assert result.figures["true_peak_dbtp"] <= -1.0


def test_the_master_is_detected_with_its_provenance_naming_the_vocal(studio, song, tmp_path):
    result, folder = song
    found = studio.detect(folder / "master.wav")
    assert found.mark_id == result.master.mark_id and found.p_value < 1e-12
    entry = studio.ledger.entry(found.provenance["ledger_seq"]).body
    assert entry["kind"] == "song" and entry["channels"] == 2 and entry["seed"] == 11
    assert entry["vocal_entry_hash"] == result.vocal.provenance["hash"]
    assert studio.ledger.entry(entry["vocal_seq"]).body["kind"] == "singing"
    assert entry["style"]["name"] == "pop" and entry["style"]["tempo"] == 132
    stereo, rate = sf.read(folder / "master.wav", dtype="float32")
    sf.write(tmp_path / "downmix.wav", stereo.mean(axis=1), rate)  # a mono copy keeps the mark
    assert studio.detect(tmp_path / "downmix.wav").mark_id == found.mark_id
    sf.write(tmp_path / "left.wav", stereo[:, 0], rate)  # and so does one channel alone
    assert studio.detect(tmp_path / "left.wav").mark_id == found.mark_id


def test_every_stem_carries_its_own_mark_and_names_the_song(studio, song):
    result, folder = song
    assert set(result.stems) == {"vocals", "drums", "bass", "chords"}
    for name, stem in result.stems.items():
        found = studio.detect(folder / "stems" / f"{name}.wav")
        assert found.mark_id == stem.mark_id and found.p_value < 1e-12, name
        body = studio.ledger.entry(found.provenance["ledger_seq"]).body
        assert body["kind"] == "song-stem" and body["stem"] == name
    assert studio.ledger.entry(result.master.provenance["seq"]).body["stem_marks"] == {
        name: f"{stem.mark_id:08x}" for name, stem in result.stems.items()}


def test_the_stems_sum_to_the_mix_before_mastering(song):
    result, _ = song
    composition = result.composition
    tracks = arrange.backing(composition)
    rate = 44100
    length = (composition.seconds() + synth.TAIL_S)
    stems = {"vocals": np.zeros(round(length * rate), np.float32)}
    stems["vocals"][rate: 2 * rate] = np.sin(np.arange(rate) * 2 * np.pi * 220 / rate) * 0.2
    for name in ("drums", "bass", "chords"):
        stems[name] = synth.render([t for t in tracks if t.stem == name], composition.style.tempo, rate, length)
        assert np.abs(stems[name]).max() > 0.01, name
    mixed = mix.mixed(stems, rate, composition.style.gains_db, composition.style.pans)
    assert np.allclose(np.sum(list(mixed.stems.values()), axis=0), mixed.bus, atol=1e-6)


def test_the_song_writes_its_midi_and_musicxml_which_read_back_as_a_score(studio, song, tmp_path):
    result, folder = song
    midi = (folder / "stems" / "song.mid").read_bytes()
    assert midi == result.midi
    melody = [(n.pitch, n.start, n.lyric) for n in result.composition.melody.notes]
    assert [(n.pitch, n.start, n.lyric) for n in read_score(midi, "midi").notes] == melody
    again = studio.song(voice="heart", score=folder / "stems" / "song.musicxml", style="pop", seed=11)
    assert [(n.pitch, n.start, n.lyric) for n in again.composition.melody.notes
            if n.lyric] == [(p, s, lyr) for p, s, lyr in melody]
    style = result.composition.style
    bars = len(again.composition.chords) - 2  # the score's own bars, before the ring-out
    assert bars >= len(result.composition.chords) - 4
    assert [chord_pitches(c, style.key, style.mode) for c in again.composition.chords[:bars]] == \
        [chord_pitches(c, style.key, style.mode) for c in result.composition.chords[:bars]]
    assert studio.detect(again.master.encoded).mark_id == again.master.mark_id


def test_the_cli_makes_a_song_and_refuses_a_bad_style_with_one_line(studio, tmp_path):
    (tmp_path / "song.txt").write_text("[verse]\nHello from the other side\n")

    def voicekit(*args):
        return subprocess.run([sys.executable, "-m", "voicekit.cli", "--home", str(studio.home), *args],
                              capture_output=True, text=True, timeout=300)

    ok = voicekit("song", str(tmp_path / "song.txt"), "-o", str(tmp_path / "song.mp3"), "--style", "lofi",
                  "--voice", "joe", "--json")
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert int(summary["mark_id"], 16) == studio.detect(tmp_path / "song.mp3").mark_id
    assert abs(summary["lufs"] + 14) <= 0.5 and summary["true_peak_dbtp"] <= -1.0
    bad = voicekit("song", str(tmp_path / "song.txt"), "-o", str(tmp_path / "x.mp3"), "--style", "rock")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == "voicekit: unknown style 'rock'; use one of ballad, pop, folk, lofi"
    assert not (tmp_path / "x.mp3").exists()
