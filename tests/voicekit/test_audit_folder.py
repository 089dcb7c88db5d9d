"""`Studio.audit` and `voicekit audit`: a folder in, a verdict per file and a signed report out,
with each voice's consent when the output was made and now; unreadable files do not stop it."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from detection.edits import ALL_EDITS
from detection.report import verify_report
from tests.conftest import HUMAN_RECORDING
from voicekit import Studio

START = 1_700_000_000.0  # in the past, so the CLI (real time) sees the revocation too


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A home whose `joe` was revoked after it spoke, and a folder with one file of each verdict."""
    now = [START]
    home, folder = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("folder")
    studio = Studio(home=home, clock=lambda: now[0])
    heart = studio.speak("The audit finds this sentence and the record behind it.", voice="heart")
    (folder / "heart.wav").write_bytes(heart.encoded)
    joe = studio.speak("Joe said this before his voice was withdrawn.", voice="joe", format="mp3")
    (folder / "later" / "joe.mp3").parent.mkdir()
    (folder / "later" / "joe.mp3").write_bytes(joe.encoded)
    pitch = next(e for e in ALL_EDITS if e.name == "pitch_up_3")
    samples, rate = sf.read(folder / "heart.wav", dtype="float32")
    shifted, rate = pitch.apply(samples, rate, np.random.default_rng(0))
    sf.write(folder / "heart-pitched.wav", shifted, rate)
    (folder / "human.wav").write_bytes(HUMAN_RECORDING.read_bytes())
    (folder / "notes.txt").write_text("not audio")
    now[0] = START + 3600
    studio.revoke("joe", reason="the licence ended")
    now[0] = START + 7200
    return studio, home, folder, heart, joe


def _rows(document):
    return {row["path"].rsplit("/", 1)[-1]: row for row in document["report"]["files"]}


def test_every_verdict_in_one_folder(audited):
    studio, _, folder, heart, joe = audited
    document = studio.audit([folder], recursive=True)
    rows = _rows(document)
    assert {name: row["verdict"] for name, row in rows.items()} == {
        "heart.wav": "ours", "joe.mp3": "ours", "heart-pitched.wav": "marked-unattributed",
        "human.wav": "no-mark", "notes.txt": "unreadable"}
    assert rows["heart.wav"]["mark_id"] == f"{heart.mark_id:08x}" and rows["heart.wav"]["provenance"]["signature_valid"]
    assert "not a readable audio file" in rows["notes.txt"]["error"]
    assert document["report"]["summary"] == {"ours": 2, "marked-unattributed": 1, "record-invalid": 0,
                                                  "no-mark": 1, "unreadable": 1}
    assert verify_report(document) == studio.keys.current_key_id


def test_a_revoked_voice_is_reported_consented_then_and_revoked_now(audited):
    studio, _, folder, *_ = audited
    rows = _rows(studio.audit([folder / "heart.wav", folder / "later" / "joe.mp3"]))
    assert rows["joe.mp3"]["consent"]["voice"] == "joe"
    assert rows["joe.mp3"]["consent"]["then"]["status"] == "active"
    assert rows["joe.mp3"]["consent"]["now"]["status"] == "revoked"
    assert "the licence ended" in rows["joe.mp3"]["consent"]["now"]["detail"]
    assert rows["heart.wav"]["consent"]["then"]["status"] == rows["heart.wav"]["consent"]["now"]["status"] == "active"


def test_without_recursion_only_the_folder_itself_and_missing_paths_are_reported(audited):
    studio, _, folder, *_ = audited
    rows = _rows(studio.audit([folder, folder / "gone.wav"]))
    assert "joe.mp3" not in rows
    assert rows["gone.wav"]["verdict"] == "unreadable" and "no such file" in rows["gone.wav"]["error"]


def test_the_cli_writes_a_report_that_verifies_until_a_byte_changes(audited, tmp_path):
    _, home, folder, *_ = audited
    report = tmp_path / "report.json"

    def voicekit(*args):
        return subprocess.run([sys.executable, "-m", "voicekit.cli", "--home", str(home), *args],
                              capture_output=True, text=True, timeout=300)

    run = voicekit("audit", str(folder), "--recursive", "--report", str(report))
    assert run.returncode == 0, run.stderr
    assert "summary: 2 ours, 1 marked-unattributed, 0 record-invalid, 1 no-mark, 1 unreadable" in run.stdout
    assert "consent then active, now revoked" in run.stdout
    checked = voicekit("audit", "verify-report", str(report), "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["valid"]
    report.write_text(report.read_text().replace('"no-mark": 1', '"no-mark": 0'))
    tampered = voicekit("audit", "verify-report", str(report))
    assert tampered.returncode == 5 and tampered.stderr.strip().startswith("voicekit: report does not verify")


def test_the_html_report_is_one_page_with_a_figure_per_readable_file_and_carries_the_signed_report(audited, tmp_path):
    studio, home, folder, *_ = audited
    page = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-m", "voicekit.cli", "--home", str(home), "audit", str(folder), "-r",
                          "--report", str(page)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    text = page.read_text()
    assert text.count("src='data:image/png;base64,") == 4  # every file but notes.txt
    assert "consent when made</th><td>active" in text and "consent now</th><td>revoked voice" in text
    assert "the licence ended" in text
    assert "src='http" not in text and "<link" not in text  # self-contained
    assert verify_report(text) == studio.keys.current_key_id
    with pytest.raises(Exception, match="changed after it was signed"):
        verify_report(text.replace('"no-mark": 1', '"no-mark": 3'))


def test_a_report_that_cannot_be_written_is_refused_before_the_audit(audited, tmp_path):
    _, home, folder, *_ = audited
    run = subprocess.run([sys.executable, "-m", "voicekit.cli", "--home", str(home), "audit", str(folder),
                          "--report", str(tmp_path / "missing" / "report.json")], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [f"voicekit: cannot write {tmp_path / 'missing' / 'report.json'}: "
                                               f"folder {tmp_path / 'missing'} does not exist"]


def test_c2pa_manifests_are_validated_and_matched_with_the_mark(audited):
    studio, _, folder, *_ = audited
    rows = _rows(studio.audit([folder], recursive=True))
    for name in ("heart.wav", "joe.mp3"):
        c2pa = rows[name]["c2pa"]
        assert c2pa["present"] and c2pa["state"] == "Trusted" and c2pa["matches_mark"], c2pa
        assert c2pa["provenance"]["ledger_entry_hash"] == rows[name]["provenance"]["entry_hash"]
        assert rows[name]["provenance"]["watermark"] == "keyed-v2"
        assert rows[name]["provenance"]["ledger_chain"] == {"intact": True, "problems": []}
    assert rows["heart-pitched.wav"]["c2pa"] == {"present": False}  # rewritten by the edit
    assert rows["human.wav"]["c2pa"] == {"present": False}


def test_a_record_edited_in_the_ledger_is_reported_record_invalid(tmp_path):
    import sqlite3

    studio = Studio(home=tmp_path / "home")
    said = studio.speak("This record will be edited behind the ledger's back.", voice="joe")
    (tmp_path / "said.wav").write_bytes(said.encoded)
    with sqlite3.connect(tmp_path / "home" / "ledger" / "ledger.db") as db:
        body = json.loads(db.execute("SELECT body FROM entries WHERE seq = ?", (said.provenance["seq"],)).fetchone()[0])
        body["voice"] = "heart"
        db.execute("UPDATE entries SET body = ? WHERE seq = ?", (json.dumps(body), said.provenance["seq"]))
    row = _rows(studio.audit([tmp_path / "said.wav"]))["said.wav"]
    assert row["verdict"] == "record-invalid" and "consent" not in row
    assert not row["provenance"]["signature_valid"]
    assert any("content does not match its hash" in p for p in row["provenance"]["ledger_chain"]["problems"])
