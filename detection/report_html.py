"""An audit report as one self-contained HTML page: the summary table, and per file a spectrogram
with the stretches that carry our mark, a mark-confidence timeline, the provenance and the consent.

The signed JSON report is embedded verbatim (a `<script type="application/json">` block), so the
page carries what `voicekit audit verify-report` checks; the figures are drawn from the files
again and are not part of what is signed.
"""
from __future__ import annotations

import base64
import html
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from consent.errors import VoicekitError
from detection.decoding import decode_file
from detection.watermark.base import Watermarker
from detection.watermark.residual import resample

FIGURE_RATE = 16000
MAX_FIGURE_S = 600.0  # longer files: the figures show their first ten minutes
TIMELINE_WINDOW_S = 3.0
MAX_TIMELINE_POINTS = 120
_STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.ours{color:#0a6b2d}.marked-unattributed{color:#8a5a00}.record-invalid{color:#a00}.no-mark{color:#555}.unreadable{color:#a00}
section{border-top:1px solid #ddd;margin-top:1.5em}img{max-width:100%}code{font-size:12px}"""


def render(document: dict[str, Any], watermarker: Watermarker, sources: list[Path] | None = None) -> str:
    """The page for a signed report (detection.report.signed_report), its figures drawn with
    `watermarker` from the files the report names, or from `sources` (one per file, in order:
    where an upload was stored). A file gone since is said so, not fatal."""
    body = document["report"]
    rows = "".join(f"<tr><td class='{v}'>{v}</td><td>{n}</td></tr>" for v, n in body["summary"].items())
    sources = sources or [Path(row["path"]) for row in body["files"]]
    sections = "".join(_section(i, row, source, watermarker)
                       for i, (row, source) in enumerate(zip(body["files"], sources), 1))
    created = _when(body["created"])
    signed = json.dumps(document, indent=1).replace("<", "\\u003c")  # no "</script>" can end the block early
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>voicekit audit {created}</title>"
            f"<style>{_STYLE}</style></head><body><h1>voicekit audit</h1>"
            f"<p>{len(body['files'])} files, {created}, watermark {html.escape(body['watermark'])}; "
            f"signed by key <code>{html.escape(document['signature']['key_id'])}</code> "
            f"(check the embedded report with <code>voicekit audit verify-report</code>).</p>"
            f"<table><tr><th>verdict</th><th>files</th></tr>{rows}</table>{sections}"
            f"<script type='application/json' id='signed-report'>{signed}</script></body></html>")


def signed_json(page: str) -> str | None:
    """The signed report embedded in a page made by `render`, as JSON text (None if there is none)."""
    tag = "<script type='application/json' id='signed-report'>"
    start = page.find(tag)
    end = page.find("</script>", start)
    return None if start < 0 or end < 0 else page[start + len(tag): end]


def _section(index: int, row: dict[str, Any], source: Path, watermarker: Watermarker) -> str:
    verdict = row["verdict"]
    head = f"<section><h2>{index}. {html.escape(row['path'])}</h2><p class='{verdict}'><b>{verdict}</b>"
    if verdict == "unreadable":
        return f"{head}: {html.escape(row['error'])}</p></section>"
    head += f" (p = {row['p_value']:.3g}, {row['duration_s']:.1f} s)</p>"
    details = []
    if row.get("provenance"):
        prov = row["provenance"]
        details += [("mark", row["mark_id"]), ("voice", prov["voice"]), ("engine", prov["engine"]),
                    ("made", _when(prov["time"])), ("ledger entry", prov["ledger_seq"]),
                    ("signature", "valid" if prov["signature_valid"] else "INVALID"), ("key", prov["key_id"]),
                    ("watermark", prov.get("watermark")),
                    ("ledger chain", "intact" if prov["ledger_chain"]["intact"]
                     else "BROKEN: " + "; ".join(prov["ledger_chain"]["problems"]))]
    if row.get("consent"):
        then, now = row["consent"]["then"], row["consent"]["now"]
        details += [("consent when made", then["status"]), ("consent now", f"{now['status']} {now['detail']}".strip())]
    if row.get("c2pa"):
        details.append(("C2PA manifest", _c2pa_line(row["c2pa"])))
    if row.get("passive"):
        score = row["passive"]
        sounds = {True: "sounds synthetic", False: "does not sound synthetic", None: "too little speech"}[score["synthetic"]]
        details.append(("passive detector (advisory)", f"{sounds} (score {score['score']}, threshold {score['threshold']})"))
    if row.get("time_scale", 1.0) != 1.0 or row.get("pitch_cents", 0):
        details.append(("edit found", f"time x{row['time_scale']}, pitch {row['pitch_cents']:+d} cents"))
    table = "".join(f"<tr><th>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in details)
    return f"{head}<table>{table}</table>{_figure(row, source, watermarker)}</section>"


def _c2pa_line(found: dict[str, Any]) -> str:
    if not found["present"]:
        return found.get("reason", "none")
    line = {"Trusted": "valid, signed by this installation's chain", "Valid": "intact, but signed by a chain not trusted here",
            "Invalid": "INVALID"}.get(found["state"], found["state"])
    if found.get("failures"):
        line += " (" + ", ".join(found["failures"]) + ")"
    if found.get("matches_mark") is False:
        line += "; names another ledger entry than the mark does"
    return line


def _figure(row: dict[str, Any], source: Path, watermarker: Watermarker) -> str:
    try:
        samples, rate = decode_file(source)
    except VoicekitError as e:
        return f"<p>No figure: {html.escape(str(e))}</p>"
    x = resample(samples[: int(MAX_FIGURE_S * rate)], rate, FIGURE_RATE).astype(np.float32)
    times, confidence = _timeline(x, watermarker, row)
    return f"<img alt='spectrogram and mark timeline' src='data:image/png;base64,{_plot(x, row, times, confidence)}'>"


def _timeline(x: np.ndarray, watermarker: Watermarker, row: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """-log10 p of a matched test of the file's mark in windows along it (none without a mark id;
    one window, the whole file, for files shorter than a window)."""
    if row.get("mark_id") is None:
        return np.zeros(0), np.zeros(0)
    mark, size = int(row["mark_id"], 16), min(len(x), int(TIMELINE_WINDOW_S * FIGURE_RATE))
    starts = np.linspace(0, len(x) - size, min(MAX_TIMELINE_POINTS, 1 + (len(x) - size) // FIGURE_RATE)).astype(int)
    p = [watermarker.match(x[s: s + size], FIGURE_RATE, [mark], scales=(1.0,), windows=False).p_value for s in starts]
    return (starts + size / 2) / FIGURE_RATE, -np.log10(np.maximum(p, 1e-300))


def _plot(x: np.ndarray, row: dict[str, Any], times: np.ndarray, confidence: np.ndarray) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 3.6), sharex=True, height_ratios=(2, 1))
    try:
        top.specgram(x + 1e-7, NFFT=512, Fs=FIGURE_RATE, noverlap=256, cmap="magma")
        top.set_ylabel("Hz")
        for begin, end in row.get("spans", []):  # where the mark was localised
            bottom.axvspan(begin, end, color="#3fb950", alpha=0.25, linewidth=0)
        bottom.axhline(6, color="#999", linestyle="--", linewidth=0.8)  # p = 1e-6, the release threshold
        if len(times):
            bottom.plot(times, confidence, color="#0a6b2d", marker="." if len(times) < 3 else None)
            bottom.set_ylim(0, max(10.0, float(confidence.max()) * 1.1))
        else:
            bottom.text(0.5, 0.5, "no mark id to follow along the file", ha="center", va="center",
                        transform=bottom.transAxes, color="#777")
        bottom.set_ylabel("-log10 p")
        bottom.set_xlabel("seconds")
        bottom.set_xlim(0, len(x) / FIGURE_RATE)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
    finally:
        plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
