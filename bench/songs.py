"""Songs from lyrics: speed, loudness, the vocal's pitch, the rhythm's stresses, the marks, words.

Six lyric sheets written for this benchmark (four used while building, two held out: written after
the code was done and never used to tune it), each made into a song in three styles (rotating over
the four presets), by heart and joe in turn, each with its own seed, through `Studio.song` with
stems. Per song:
- speed: seconds of song per second of `Studio.song` (lyrics to released master and stems) on the
  machine's cores (2 here), with and without stems;
- loudness: the released master decoded in stereo, integrated loudness by pyloudnorm (BS.1770)
  against -14 LUFS, true peak by 4x oversampling (scipy) against -1 dBTP;
- pitch: the released vocal against the generated melody, as bench/singing.py measures it
  (|f0 - note| cents, the share of notes within 50 cents);
- rhythm: the share of primary-stressed syllables on strong beats (beats 1 and 3 of 4/4, the
  downbeat of 3/4) and on any beat;
- marks: `Studio.detect` on the master (p, and whether it names the master's record), on the master
  re-encoded as stereo MP3 at 128 kbps, and on each released stem; the vocal's own mark tested for
  (verify) in the master's downmix, where the mixing buried it;
- words: pocketsphinx word error rate of the vocal (the released vocal stem's audio, 16 kHz).
Writes bench/results/songs.json and prints the table. Not a test: nothing is asserted.
Usage: python bench/songs.py
"""
from __future__ import annotations

import io
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout first (bench/ stays after it: bench/consent.py is not the package)

import numpy as np  # noqa: E402

SHEETS = {
    "harbour-lights": """[verse]
Lanterns are low on the harbour wall
Boats on the water are waiting for dawn
[chorus]
Carry me over, carry me home
Over the water I'm never alone
[verse]
Ropes on the jetty are heavy with rain
Gulls in the morning are calling again
[chorus]
Carry me over, carry me home
Over the water I'm never alone
""",
    "city-bus": """[verse]
Number nine is running late again
Pressing my forehead on the window pane
[chorus]
Take me downtown, take me anywhere
Every single stop is a new affair
[bridge]
Tickets in my pocket, music in my ears
[chorus]
Take me downtown, take me anywhere
Every single stop is a new affair
""",
    "garden-song": """[verse]
Tomatoes ripen by the kitchen door
Sunflowers lean a little more
[chorus]
Grow, grow, slow and steady
Summer is coming, are you ready
[chorus]
Grow, grow, slow and steady
Summer is coming, are you ready
""",
    "telegram": """[verse]
Seventeen letters and a photograph
Written in pencil, folded half and half
[chorus]
Send me a word across the wire
One little word to start a fire
[verse]
Postman is whistling down Amelia Street
Carrying secrets on his tired feet
[chorus]
Send me a word across the wire
One little word to start a fire
""",
}
HELD_OUT = {
    "mountain-radio": """[verse]
Static on the radio at Kilimanjaro's foot
Batteries are dying but the signal's good
[chorus]
Turn it up, turn it up, let the valley hear
Every voice is closer when the night is clear
[chorus]
Turn it up, turn it up, let the valley hear
Every voice is closer when the night is clear
""",
    "quiet-library": """[verse]
Dust on the atlas and the encyclopaedia
Whispers of Siobhan and a girl called Xiadani
[chorus]
Hush now, turn the page
Every story has its stage
[bridge]
Margins full of pencil notes from nineteen sixty-three
[chorus]
Hush now, turn the page
Every story has its stage
""",
}
STYLES = ("pop", "folk", "lofi", "ballad")


def stereo_mp3(encoded: bytes, bit_rate: int) -> bytes:
    """The master decoded in stereo and encoded again as MP3 at `bit_rate` (a user's own setting)."""
    import soundfile as sf

    from voicekit import codecs

    stereo, rate = sf.read(io.BytesIO(encoded), dtype="float32")
    return codecs.encode(stereo, rate, "mp3", bit_rate=bit_rate)


def loudness_figures(encoded: bytes) -> dict:
    import pyloudnorm
    import soundfile as sf
    from scipy.signal import resample_poly

    stereo, rate = sf.read(io.BytesIO(encoded), dtype="float64")
    peak = float(np.max(np.abs(resample_poly(stereo, 4, 1, axis=0))))
    return {"lufs": round(float(pyloudnorm.Meter(rate).integrated_loudness(stereo)), 2),
            "true_peak_dbtp": round(20 * np.log10(peak), 2), "channels": stereo.shape[1]}


def song_row(studio, checker, title: str, sheet: str, style: str, voice: str, seed: int, held_out: bool) -> dict:
    from sung_pitch import measure

    from voicekit.audio import resample
    from voicekit.cloning.fit import word_errors
    from voicekit.music.lyrics import parse_lyrics
    from voicekit.singing.render import LEAD_S

    t = time.perf_counter()
    result = studio.song(sheet, voice=voice, style=style, seed=seed, format="wav", stems=True)
    seconds = time.perf_counter() - t
    song_s = result.figures["duration_s"]
    composition = result.composition
    stems_s = result.timings.get("stems", 0.0)
    master = studio.detect(result.master.encoded)
    mp3 = studio.detect(stereo_mp3(result.master.encoded, 128_000))
    vocal_in_master = studio.watermarker.verify(result.master.audio, result.master.sample_rate, result.vocal.mark_id)
    lyrics = " ".join(line.text for section in parse_lyrics(sheet) for line in section.lines)
    hypothesis = checker.transcribe(resample(result.vocal.audio, result.vocal.sample_rate, 16000))
    errors, total = word_errors(lyrics, hypothesis)
    stems = {}
    for name, stem in result.stems.items():
        found = studio.detect(stem.encoded)
        stems[name] = {"p": float(f"{found.p_value:.3g}"), "names_its_record": found.mark_id == stem.mark_id}
    return {
        "song": title, "held_out": held_out, "style": style, "voice": voice, "seed": seed,
        "duration_s": song_s, "x_real_time": round(song_s / seconds, 2),
        "x_real_time_without_stems": round(song_s / (seconds - stems_s), 2),
        **loudness_figures(result.master.encoded),
        **{f"vocal_{k}": v for k, v in measure(result.vocal, composition.melody, LEAD_S).items()},
        "stressed_on_strong_beats": round(composition.stressed_on_strong_beats(3), 3),
        "stressed_on_a_beat": round(composition.stressed_on_strong_beats(2), 3),
        "master_p": float(f"{master.p_value:.3g}"), "master_names_its_record": master.mark_id == result.master.mark_id,
        "mp3_128k_p": float(f"{mp3.p_value:.3g}"), "mp3_128k_names_its_record": mp3.mark_id == result.master.mark_id,
        "vocal_mark_p_in_master": float(f"{vocal_in_master.p_value:.3g}"),
        "stems": stems, "wer_vocal": round(errors / total, 3),
        "timings_s": {k: round(v, 2) for k, v in result.timings.items()},
    }


def main() -> None:
    from consent.statement import StatementChecker
    from voicekit import Studio

    started = time.time()
    checker = StatementChecker()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        studio = Studio(home=Path(tmp) / "home")
        studio.song("[verse]\nla la la\n", voice="joe", style="folk")  # load every engine before timing
        studio.song("[verse]\nla la la\n", voice="heart", style="folk")
        number = 0
        for held_out, sheets in ((False, SHEETS), (True, HELD_OUT)):
            for title, sheet in sheets.items():
                for k in range(3):
                    style = STYLES[(number + k) % len(STYLES)]
                    voice = ("heart", "joe")[(number + k) % 2]
                    rows.append(song_row(studio, checker, title, sheet, style, voice, seed=17 * number + k,
                                         held_out=held_out))
                    print(json.dumps(rows[-1]), flush=True)
                number += 1
    keys = ["x_real_time", "x_real_time_without_stems", "lufs", "true_peak_dbtp", "vocal_pitch_median_cents",
            "vocal_notes_within_50_cents", "stressed_on_strong_beats", "stressed_on_a_beat", "master_p", "mp3_128k_p",
            "vocal_mark_p_in_master", "wer_vocal"]
    summary = {}
    for name, chosen in (("all", rows), ("held_out", [r for r in rows if r["held_out"]])):
        summary[name] = {k: float(f"{np.median([r[k] for r in chosen]):.3g}") for k in keys} | {
            "worst_lufs_error": round(max(abs(r["lufs"] + 14) for r in chosen), 2),
            "worst_true_peak_dbtp": max(r["true_peak_dbtp"] for r in chosen),
            "worst_master_p": max(r["master_p"] for r in chosen),
            "worst_mp3_128k_p": max(r["mp3_128k_p"] for r in chosen),
            "masters_named": f"{sum(r['master_names_its_record'] for r in chosen)}/{len(chosen)}",
            "mp3_named": f"{sum(r['mp3_128k_names_its_record'] for r in chosen)}/{len(chosen)}",
            "stems_named": f"{sum(s['names_its_record'] for r in chosen for s in r['stems'].values())}/"
                           f"{sum(len(r['stems']) for r in chosen)}",
            "worst_stem_p": max(s["p"] for r in chosen for s in r["stems"].values()),
        }
    result = {"date": datetime.now(timezone.utc).date().isoformat(), "machine": platform.platform(),
              "cores": len(os.sched_getaffinity(0)), "rows": rows, "summary_median": summary,
              "seconds": round(time.time() - started)}
    (ROOT / "bench" / "results" / "songs.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'set':<10}" + "".join(f"{k[:22]:>24}" for k in keys))
    for name, s in summary.items():
        print(f"{name:<10}" + "".join(f"{s[k]!s:>24}" for k in keys))
    for name, s in summary.items():
        print(name, {k: v for k, v in s.items() if k not in keys})


if __name__ == "__main__":
    main()
