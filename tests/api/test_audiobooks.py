"""Audiobook jobs over HTTP (TestClient; the app's own runner thread narrates): an EPUB of three
chapters becomes an M4B whose chapter markers and per-chapter marks are checked; Markdown becomes
a zip of MP3s; jobs are private to their owner and can be cancelled."""
from __future__ import annotations

import io
import json
import zipfile

from detection.content_credentials import read_manifest
from detection.decoding import decode_bytes
from tests.api.conftest import bearer, finished
from tests.api.test_http import problem
from tests.bookfixtures import make_epub
from voicekit.m4b import read_chapters

CHAPTERS = [
    ("The Harbour", "The ferry left at dawn. Gulls followed it out past the lighthouse."),
    ("The Storm", "By noon the sky had turned grey. Waves broke over the bow, and the crew held on."),
    ("Home Again", "In the evening the sea was calm. The lights of the town came on, one by one."),
]


def test_an_epub_becomes_an_m4b_with_chapter_markers_and_a_mark_per_chapter(client, keys, service):
    headers = bearer(keys["speak"])
    submitted = client.post("/v1/audiobooks", headers=headers, data={"voice": "heart", "output": "m4b"},
                            files={"file": ("sea.epub", make_epub(CHAPTERS, title="The Sea"))})
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert job["title"] == "The Sea" and [c["title"] for c in job["chapters"]] == [t for t, _ in CHAPTERS]

    done = finished(client, headers, f"/v1/audiobooks/{job['job_id']}")
    assert done["status"] == "done", done["error"]
    assert done["chapters_done"] == 3 and done["seconds_done"] > 10 and done["eta_s"] is None

    book = client.get(f"/v1/audiobooks/{job['job_id']}/result", headers=headers)
    assert book.status_code == 200 and book.headers["content-type"] == "audio/mp4"
    markers = read_chapters(book.content)
    assert [m["title"] for m in markers] == [t for t, _ in CHAPTERS]
    samples, rate = decode_bytes(book.content)
    mark_ids = [c["mark_id"] for c in done["chapters"]]
    assert len(set(mark_ids)) == 3
    for marker, mark_id in zip(markers, mark_ids):
        assert marker["end_s"] > marker["start_s"]
        span = samples[round(marker["start_s"] * rate):round(marker["end_s"] * rate)]
        assert service.studio.watermarker.verify(span, rate, mark_id).p_value < 1e-6  # the gate's own test
        assert service.studio.ledger.find_mark(mark_id).body["format"] == "m4a"
    entry = [e for e in service.studio.ledger.entries() if e.kind == "audiobook" and e.seq == done["ledger_seq"]][0]
    assert [c["mark_id"] for c in entry.body["chapters"]] == mark_ids
    assert entry.body["c2pa"] == {"embedded": True}
    manifest = read_manifest(book.content, "m4b", [service.studio.credentials.root_pem])
    assert manifest["state"] == "Trusted" and manifest["failures"] == []
    assert manifest["provenance"]["ledger_entry_hash"] == entry.hash
    assert manifest["provenance"]["chapter_mark_ids"] == [f"{m:08x}" for m in mark_ids]


def test_markdown_becomes_a_zip_of_marked_mp3s_and_jobs_are_private(client, keys, service):
    headers = bearer(keys["speak"])
    text = "# The Sea\n\n" + "".join(f"## {t}\n\n{body}\n\n" for t, body in CHAPTERS[:2])
    job = client.post("/v1/audiobooks", headers=headers,
                      data={"output": "zip", "style": "calm"}, files={"file": ("sea.md", text.encode())}).json()
    problem(client.get(f"/v1/audiobooks/{job['job_id']}", headers=bearer(keys["bob"])), 404, "unknown-job")
    done = finished(client, headers, f"/v1/audiobooks/{job['job_id']}")
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/v1/audiobooks/{job['job_id']}/result", headers=headers).content))
    listed = json.loads(archive.read("chapters.json"))
    assert [c["title"] for c in listed] == ["The Harbour", "The Storm"]
    for chapter, state in zip(listed, done["chapters"]):
        samples, rate = decode_bytes(archive.read(chapter["file"]))
        assert service.studio.watermarker.verify(samples, rate, state["mark_id"]).p_value < 1e-6
        assert service.studio.ledger.find_mark(state["mark_id"]).body["style"] == "calm"


def test_bad_books_and_unknown_voices_are_refused_before_a_job_exists(client, keys):
    headers = bearer(keys["speak"])
    before = len(client.get("/v1/audiobooks", headers=headers).json()["jobs"])
    problem(client.post("/v1/audiobooks", headers=headers, files={"file": ("x.epub", b"PK\x03\x04 not a zip")}),
            400, "invalid-book")
    problem(client.post("/v1/audiobooks", headers=headers, data={"text": "Hello.", "voice": "nobody"}),
            404, "unknown-voice")
    problem(client.post("/v1/audiobooks", headers=headers, data={"voice": "heart"}), 422, "invalid-request")
    assert len(client.get("/v1/audiobooks", headers=headers).json()["jobs"]) == before


def test_a_cancelled_job_stops_and_has_no_result(client, keys):
    headers = bearer(keys["speak"])
    text = "\n\n".join(f"Chapter {i}\n\n" + "The tide came in and went out again. " * 40 for i in range(1, 9))
    job = client.post("/v1/audiobooks", headers=headers, data={"text": text}).json()
    cancelled = client.delete(f"/v1/audiobooks/{job['job_id']}", headers=headers).json()
    assert cancelled["status"] == "cancelled"
    done = finished(client, headers, f"/v1/audiobooks/{job['job_id']}")
    assert done["status"] == "cancelled" and done["chapters_done"] < 8
    problem(client.get(f"/v1/audiobooks/{job['job_id']}/result", headers=headers), 409, "job-not-ready")
