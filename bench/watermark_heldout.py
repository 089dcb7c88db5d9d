"""The invariance edits on material the invariant layer was never tuned on (issue 17).

The layer's parameters were chosen on heart/joe readings of bench/watermark.py's texts and on Allison
prompts; bench/watermark.py's marked clips are heart and joe again. Here: the human speakers of
pocketsphinx-testdata and espeak-ng/flite voices reading other texts, 5 s and 10 s clips, marked with a
fresh key, each through every edit of detection.edits.INVARIANCE_EDITS; detection at p <= 1e-6.
Needs `bash bench/setup.sh`. Writes bench/results/watermark_heldout.json. Not a test.
Usage: python bench/watermark_heldout.py
"""
import glob
import io
import json
import secrets
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import one_core

one_core.single_threaded()

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from detection.decoding import decode_file  # noqa: E402
from detection.edits import INVARIANCE_EDITS  # noqa: E402
from detection.watermark import KeyedWatermark, WatermarkKey  # noqa: E402
from voicekit.audio import resample  # noqa: E402

R = 24000
clips = []
files = sorted(glob.glob("/usr/share/pocketsphinx/test/data/**/*.wav", recursive=True))
if not files:
    sys.exit("no human speech found: run `bash bench/setup.sh` first")
stream = np.concatenate([resample(*decode_file(f), R) for f in files])
print("human seconds", len(stream) / R, len(files))
for k, sec in enumerate([10, 5] * 6):
    start = int((k * 13.7 * R) % max(1, len(stream) - sec * R)); clips.append(("human", stream[start:start + sec * R]))
texts = ["Please remember to water the garden twice a week during the summer months.",
         "The annual report was delayed because two of the auditors fell ill in March.",
         "Our train leaves from platform nine at a quarter past seven tomorrow morning."]
for v in ("en-us", "en+f3"):
    raw = subprocess.run(["espeak-ng", "-v", v, "--stdout", " ".join(texts)], capture_output=True, check=True).stdout
    x, r = sf.read(io.BytesIO(raw), dtype="float32"); x = resample(x, r, R)
    clips += [("espeak:" + v, x[:10 * R]), ("espeak:" + v, x[2 * R:7 * R])]
for v in ("slt", "awb"):
    subprocess.run(["flite", "-voice", v, "-t", " ".join(texts), "-o", "/tmp/wm/f.wav"], check=True)
    x, r = decode_file("/tmp/wm/f.wav"); x = resample(x, r, R)
    clips += [("flite:" + v, x[:10 * R]), ("flite:" + v, x[3 * R:8 * R])]
wm = KeyedWatermark([WatermarkKey(secrets.token_bytes(32))])
found = {e.name: [] for e in INVARIANCE_EDITS}; nulls = []
for i, (who, x) in enumerate(clips):
    m = wm.embed(x, R, secrets.randbits(32))
    for j, e in enumerate(INVARIANCE_EDITS):
        y, r = e.apply(m, R, np.random.default_rng([i, j]))
        found[e.name].append(wm.detect(y, r).p_value <= 1e-6)
    nulls.append(wm.detect(x, R).p_value)
result = {
    "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    "clips": len(clips), "sources": sorted({w for w, _ in clips}),
    "detection": {k: float(np.mean(v)) for k, v in found.items()},
    "unmarked_min_p": float(min(nulls)),
}
out = Path(__file__).resolve().parent / "results" / "watermark_heldout.json"
out.write_text(json.dumps(result, indent=2) + "\n")
print(len(clips), "clips:", ", ".join(result["sources"]))
for k, v in found.items():
    print(f"{k:14s} {np.mean(v):.3f} ({sum(v)}/{len(v)})")
print("unmarked clips: smallest p", min(nulls))
