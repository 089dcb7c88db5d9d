"""The end-to-end demo: each house voice through the whole guarded path, heart singing a line, joe
in a short song (melody, band, mix, master), then the detector on every file."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from voicekit.singing.score import from_json
from voicekit.studio import Studio

DEMO_TEXT = (
    "This sentence was synthesised by voicekit. It carries an inaudible watermark "
    "that names its record in a signed ledger."
)
DEMO_SONG = {"tempo": 100, "title": "Twinkle, twinkle (traditional)", "notes": [
    {"pitch": pitch, "start": beat, "duration": 2 if beat == 6 else 1, "lyric": lyric}
    for beat, (pitch, lyric) in enumerate([("C4", "Twin-"), ("C4", "kle"), ("G4", "twin-"), ("G4", "kle"),
                                           ("A4", "lit-"), ("A4", "tle"), ("G4", "star")])]}
DEMO_LYRICS = "[chorus]\nSing it out, the light is on\n"  # one line: the song lasts about 10 s


def run_demo(studio: Studio, out: Path, human_recording: Path | None = None) -> list[dict[str, Any]]:
    """Writes <out>/<voice>.wav and .mp3 for each house voice, <out>/heart-sings.mp3 and
    <out>/joe-song.mp3 (stereo, mastered), copies the
    human recording beside them, and returns one detection row per file."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for voice in ("heart", "joe"):
        for fmt in ("wav", "mp3"):
            path = out / f"{voice}.{fmt}"
            studio.speak(DEMO_TEXT, voice=voice, format=fmt).save(path)
            files.append(path)
    sung = out / "heart-sings.mp3"
    studio.sing(from_json(DEMO_SONG).checked(), voice="heart", format="mp3").save(sung)
    files.append(sung)
    song = out / "joe-song.mp3"
    studio.song(DEMO_LYRICS, voice="joe", style="pop", seed=1, format="mp3").save(song)
    files.append(song)
    if human_recording is not None:
        copy = out / human_recording.name
        shutil.copyfile(human_recording, copy)
        files.append(copy)
    rows = []
    for path in files:
        finding = studio.detect(path)
        rows.append({
            "file": path.name,
            "watermarked": finding.watermarked,
            "p_value": finding.p_value,
            "mark_id": None if finding.mark_id is None else f"{finding.mark_id:08x}",
            "voice": finding.provenance["voice"] if finding.provenance else None,
        })
    return rows
