"""Songs through the studio:

    lyrics + style (or a full score) -> checks (consent for `sing`, style, range) -> melody ->
    vocals (Studio.sing: marked, gated, recorded) -> backing (FluidSynth, or MusicGen when the user has
    its weights) -> mix -> master ->
    release (mark in both channels -> encode -> gate -> ledger -> C2PA) -> stems, MIDI, MusicXML

`plan_song` does every check and composes the melody (cheap), so a bad lyrics file, an unknown
style, a score out of the voice's range or a voice without singing consent is refused before any
rendering, and the HTTP service can refuse a job before it is queued. `render_song` does the work.

Marks: the vocal is released (and recorded) as singing is; the master is one release whose ledger
entry names the vocal's entry, the style or score, and the seed. Stems, when asked for, are each
released too (kind "song-stem"), so every audio file a song writes carries a mark and a record.
"""
from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from consent.atomic import atomic_write
from voicekit import loudness
from voicekit.errors import ScoreError, SongError
from voicekit.music import arrange, mix, musicgen, scorefile, synth
from voicekit.music.lyrics import parse_lyrics
from voicekit.music.melody import Composition, compose, from_score
from voicekit.music.style import style_named
from voicekit.singing.ranges import RANGES, check_range
from voicekit.singing.readers import MAX_SCORE_BYTES
from voicekit.singing.render import LEAD_S
from voicekit.singing.voices import singer_for
from voicekit.studio.release import release
from voicekit.studio.request import Caller, checked_voice
from voicekit.studio.results import SpeechResult

if TYPE_CHECKING:
    from voicekit.studio.facade import Studio

SONG_RATES = (44100, 48000)
SONG_FORMATS = ("wav", "flac", "mp3", "m4a")
MAX_SEED = 2**32 - 1
HARMONY_GAIN_DB = -7.0  # the third above sits under the lead
# A chords stem (piano and pad: a few partials, little between them) leaves the payload few cells:
# its blind payload decoded as the expected mark for only 3 of 10 fresh marks (2026-12-03, the
# test song's chords), so three attempts failed about one song in three. Each attempt is one
# mark, encode and gate of the stem (about a second); drums and bass pass at the first.
STEM_MARK_ATTEMPTS = 20
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class SongPlan:
    """A checked request: what will be sung and played, and how it is released."""

    composition: Composition
    voice: str
    format: str
    sample_rate: int
    stems: bool
    stem_format: str
    harmony: bool
    target: loudness.LoudnessTarget
    source: dict[str, Any]  # what the song was made from, for the ledger: lyrics or score hash, style, seed
    backing: musicgen.Backing = musicgen.Backing(musicgen.BAND)

    @property
    def stages(self) -> int:
        return 4 + self.harmony + self.stems  # vocals, backing, mix, master; harmony and stems when asked


@dataclass(frozen=True)
class SongResult:
    """master: the released song (its `audio` is the gate's decoding, the mono downmix); vocal and
    harmony: the sung releases mixed into it; stems: name -> released stem (empty unless asked);
    figures: the master's integrated loudness (LUFS) and true peak (dBTP), in stereo, as released."""

    master: SpeechResult
    vocal: SpeechResult
    harmony: SpeechResult | None
    stems: dict[str, SpeechResult]
    midi: bytes
    musicxml: bytes
    composition: Composition
    figures: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)

    def save(self, output: Path | str, stems_folder: Path | str | None = None) -> list[Path]:
        """The master at `output`; with stems_folder (made if missing), each stem and the song's
        .mid and .musicxml there (written atomically). Returns the paths written."""
        written = [self.master.save(output)]
        if stems_folder is not None:
            folder = Path(stems_folder)
            folder.mkdir(parents=True, exist_ok=True)
            for name, stem in self.stems.items():
                written.append(stem.save(folder / f"{name}.{stem.format}"))
            for name, data in (("song.mid", self.midi), ("song.musicxml", self.musicxml)):
                atomic_write(folder / name, data)
                written.append(folder / name)
        return written


def plan_song(studio: "Studio", lyrics: str | bytes | None, voice: str, style: str, score: Path | str | bytes | None,
              seed: int, fmt: str, sample_rate: int, harmony: bool, stems: bool, stem_format: str,
              caller: Caller | None, part: str | None = None, title: str = "",
              style_changes: dict[str, Any] | None = None, backing: str = musicgen.BAND,
              backing_paths: bool = True) -> SongPlan:
    """Every check a song needs, and its melody; raises SongError, ScoreError (OutOfRange),
    BadInput or a ConsentError before anything is rendered. backing: "band" or a MusicGen model
    (voicekit.music.musicgen); backing_paths: whether a model folder may be named by path (not for
    HTTP callers)."""
    if (lyrics is None) == (score is None):
        raise SongError("give lyrics or a score (one of them)")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise SongError(f"seed {seed!r}: give a whole number from 0 to {MAX_SEED}")
    for name, value in (("format", fmt), ("stem format", stem_format)):
        if value not in SONG_FORMATS:
            raise SongError(f"a song's {name} {value!r}: use one of {', '.join(SONG_FORMATS)}")
    if sample_rate not in SONG_RATES:
        raise SongError(f"a song is made at {' or '.join(map(str, SONG_RATES))} Hz, not {sample_rate}")
    chosen = style_named(style, **(style_changes or {}))
    band = musicgen.backing_named(backing, studio.home / "models", paths_allowed=backing_paths)
    now = studio.clock()
    profile = checked_voice(studio.registry, voice, now, caller, scope="sing")
    base = singer_for(studio.voices.for_profile(profile)).base_name
    if score is not None:
        data = _score_bytes(score)
        full = scorefile.read_full_score(data, part)
        if not full.accompaniment and not any(full.chords):
            raise SongError("the score has neither chord symbols nor accompaniment parts to play: add chord "
                            "symbols, or give lyrics instead")
        chosen = chosen.changed(key=full.key, mode=full.mode, metre=full.metre, tempo=round(full.melody.tempo[0][1], 3))
        check_range(full.melody, base, 0)
        composition = from_score(full.melody, full.chords, chosen, seed, full.accompaniment)
        source = {"score_sha256": hashlib.sha256(data).hexdigest(), "part": full.melody.part}
    else:
        text = lyrics.encode("utf-8") if isinstance(lyrics, str) else lyrics
        composition = compose(parse_lyrics(text), chosen, RANGES[base], seed, title)
        check_range(composition.melody, base, 0)
        source = {"lyrics_sha256": hashlib.sha256(text).hexdigest()}
    source |= {"style": chosen.as_dict(), "seed": seed, "melody_sha256": composition.melody.fingerprint(),
               "backing": band.name}
    if band.kind == "musicgen":
        if composition.accompaniment:
            raise SongError("the score has accompaniment parts: they are played as written, so a MusicGen "
                            "backing is not used; give backing 'band', or a score without them")
        source["backing_prompt"] = musicgen.prompt_for(chosen)
    return SongPlan(composition, voice, fmt, sample_rate, stems, stem_format,
                    harmony and composition.harmony_score() is not None, loudness.preset("music"), source, band)


def render_song(studio: "Studio", plan: SongPlan, caller: Caller | None,
                on_progress: Progress | None = None) -> SongResult:
    """Sing, play, mix, master and release `plan`. Raises a ConsentError (revoked meanwhile),
    EngineUnavailable (no FluidSynth or SoundFont), GateRefused or LedgerBroken."""
    song, rate = plan.composition, plan.sample_rate
    timings: dict[str, float] = {}
    done = 0

    def step(stage: str, started: float) -> None:
        nonlocal done
        timings[stage] = time.perf_counter() - started
        done += 1
        if on_progress is not None:
            on_progress(stage, done, plan.stages)

    t = time.perf_counter()
    length = round((song.seconds() + synth.TAIL_S) * rate)
    generated = plan.backing.kind == "musicgen"
    tracks = [] if generated else arrange.backing(song)
    model = musicgen.loaded(plan.backing.folder) if generated else None
    with ThreadPoolExecutor(max_workers=2) as pool:  # the band plays (FluidSynth or torch, off the GIL) while the voice sings
        if model is not None:
            playing = {"backing": pool.submit(model.render, plan.source["backing_prompt"], length / rate, rate,
                                              int(plan.source["seed"]))}
        else:
            playing = {name: pool.submit(synth.render, [tr for tr in tracks if tr.stem == name], song.style.tempo,
                                         rate, length / rate) for name in dict.fromkeys(track.stem for track in tracks)}
        vocal = studio.sing(song.melody, plan.voice, format="wav", sample_rate=rate, caller=caller)
        lead = _on_the_beat(vocal.audio, rate, length)
        step("vocals", t)
        second = None
        if plan.harmony:
            t = time.perf_counter()
            second = studio.sing(song.harmony_score(), plan.voice, format="wav", sample_rate=rate, caller=caller)
            lead = lead + _on_the_beat(second.audio, rate, length) * np.float32(10 ** (HARMONY_GAIN_DB / 20))
            step("harmony", t)
        t = time.perf_counter()
        stems = {"vocals": lead} | {name: played.result() for name, played in playing.items()}
    step("backing", t)
    t = time.perf_counter()
    mixed = mix.mixed(stems, rate, song.style.gains_db, song.style.pans)
    step("mix", t)
    t = time.perf_counter()
    master = mix.mastered(mixed.bus, rate, plan.target)
    checked_voice(studio.registry, plan.voice, studio.clock(), caller, scope="sing")  # still consented as it leaves
    guards = studio.safeguards()
    midi = arrange.midi_file(song, tracks)
    released_stems: dict[str, SpeechResult] = {}
    if plan.stems:
        def released_stem(name: str) -> SpeechResult:
            return _released(release(
                guards, mixed.stems[name], rate, plan.stem_format,
                leveled=lambda x: loudness.within_ceiling(x, rate, plan.target.ceiling_dbtp),
                describe=lambda mark: _record(plan, guards, mark, vocal, {"kind": "song-stem", "stem": name}),
                attempts=STEM_MARK_ATTEMPTS),
                plan.stem_format)

        with ThreadPoolExecutor(max_workers=2) as pool:
            released_stems = dict(zip(mixed.stems, pool.map(released_stem, mixed.stems)))
        step("stems", t)
        t = time.perf_counter()
    final = _Levelled(rate, plan.target)
    stem_marks = {name: f"{r.mark_id:08x}" for name, r in released_stems.items()}
    played_by = {"backing_model_sha256": model.weights_sha256} if model is not None else {}
    out = release(guards, loudness.headroom(master), rate, plan.format, leveled=final, timings=timings,
                  describe=lambda mark: _record(plan, guards, mark, vocal, {
                      "kind": "song", "midi_sha256": hashlib.sha256(midi).hexdigest(),
                      "harmony_entry_hash": second.provenance.get("hash") if second else None,
                      "stem_marks": stem_marks, **played_by}))
    step("master", t)
    figures = {"lufs": round(loudness.loudness_lufs(final.last, rate), 2),
               "true_peak_dbtp": round(loudness.true_peak_dbtp(final.last), 2),
               "duration_s": round(len(final.last) / rate, 3)}
    return SongResult(_released(out, plan.format), vocal, second, released_stems, midi, scorefile.musicxml(song),
                      song, figures, timings)


class _Levelled:
    """The release's levelling of the marked master (the mark adds a little level and peaks), kept
    so the result can report what was released."""

    def __init__(self, rate: int, target: loudness.LoudnessTarget) -> None:
        self.rate, self.target, self.last = rate, target, np.zeros((0, 2), np.float32)

    def __call__(self, marked: np.ndarray) -> np.ndarray:
        self.last = loudness.normalized(marked, self.rate, self.target, relevel=True)
        return self.last


def _record(plan: SongPlan, guards, mark: int, vocal: SpeechResult, extra: dict[str, Any]) -> dict[str, Any]:
    return {"mark_id": mark, **extra, "voice": plan.voice,
            "vocal_entry_hash": vocal.provenance.get("hash"), "vocal_seq": vocal.provenance.get("seq"),
            "vocal_mark_id": vocal.mark_id, **plan.source, "sample_rate": plan.sample_rate, "channels": 2,
            "watermark": guards.watermarker.name, "watermark_key": guards.key_id}


def _released(out, fmt: str) -> SpeechResult:
    return SpeechResult(out.audio, out.sample_rate, fmt, out.encoded, out.mark_id, out.entry or {})


def _on_the_beat(sung: np.ndarray, rate: int, length: int) -> np.ndarray:
    """The released vocal with its lead-in taken off (so beat 0 is sample 0), `length` samples long."""
    x = sung[round(LEAD_S * rate):][:length]
    return np.pad(x, (0, length - len(x))).astype(np.float32)


def _score_bytes(score: Path | str | bytes) -> bytes:
    if isinstance(score, bytes):
        data = score
    else:
        path = Path(score)
        if path.suffix.lower() not in (".musicxml", ".xml", ".mxl"):
            raise ScoreError(f"{path.name!r}: a song's score is MusicXML (.musicxml, .xml, .mxl)")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ScoreError(f"cannot read the score {path}: {e.strerror}") from e
    if len(data) > MAX_SCORE_BYTES:
        raise ScoreError(f"the score file has {len(data)} bytes; at most {MAX_SCORE_BYTES} are read")
    if not data.strip():
        raise ScoreError("the score file is empty")
    return data


