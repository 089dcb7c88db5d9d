"""POST /v1/audits: a batch of files audited as a job, with progress events and a signed report."""
import json

from detection.report import verify_report
from tests.api.conftest import bearer, finished
from tests.conftest import HUMAN_RECORDING




def _ours(client, keys) -> bytes:
    speech = client.post("/v1/audio/speech", headers=bearer(keys["speak"]),
                         json={"input": "An auditor will look at this file later.", "voice": "joe", "response_format": "mp3"})
    assert speech.status_code == 200, speech.text
    return speech.content


def test_a_batch_is_audited_with_progress_and_a_signed_report(client, keys, service):
    headers = bearer(keys["audit"])
    files = [("files", ("ours.mp3", _ours(client, keys), "audio/mpeg")),
             ("files", ("human.wav", HUMAN_RECORDING.read_bytes(), "audio/wav")),
             ("files", ("notes.txt", b"not audio at all", "text/plain")),
             ("files", ("empty.wav", b"", "audio/wav"))]
    submitted = client.post("/v1/audits", headers=headers, files=files)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["job_id"]
    with client.stream("GET", f"/v1/audits/{job_id}/events", headers=headers) as events:
        names = [line.split(":", 1)[1].strip() for line in events.iter_lines() if line.startswith("event:")]
    assert names[-1] == "done" and set(names[:-1]) <= {"progress"}
    job = finished(client, headers, f"/v1/audits/{job_id}")
    assert job["files_done"] == job["files"] == 4
    assert job["summary"] == {"ours": 1, "marked-unattributed": 0, "record-invalid": 0, "no-mark": 1, "unreadable": 2}

    document = client.get(f"/v1/audits/{job_id}/report", headers=headers).json()
    assert verify_report(json.dumps(document)) == service.studio.keys.current_key_id
    rows = {row["path"]: row for row in document["report"]["files"]}
    assert set(rows) == {"ours.mp3", "human.wav", "notes.txt", "empty.wav"}  # upload names, no server paths
    assert rows["ours.mp3"]["consent"]["now"]["status"] == "active" and rows["ours.mp3"]["passive"]["synthetic"]
    assert str(service.audits.folder) not in json.dumps(document)

    page = client.get(f"/v1/audits/{job_id}/report", params={"format": "html"}, headers=headers)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("data:image/png;base64,") == 2 and verify_report(page.text)
    assert str(service.audits.folder) not in page.text


def test_audits_are_private_need_the_audit_scope_and_can_be_deleted(client, keys):
    headers = bearer(keys["audit"])
    job_id = client.post("/v1/audits", headers=headers,
                         files=[("files", ("human.wav", HUMAN_RECORDING.read_bytes(), "audio/wav"))]).json()["job_id"]
    finished(client, headers, f"/v1/audits/{job_id}")
    assert client.post("/v1/audits", headers=bearer(keys["speak"]),
                       files=[("files", ("a.wav", b"x", "audio/wav"))]).status_code == 403
    bob = client.get(f"/v1/audits/{job_id}/report", headers=bearer(keys["bob"]))
    assert bob.status_code == 403  # bob's key has no audit scope
    admin = client.get(f"/v1/audits/{job_id}", headers=bearer(keys["admin"]))
    assert admin.status_code == 200
    deleted = client.delete(f"/v1/audits/{job_id}", headers=headers)
    assert deleted.status_code == 200
    gone = client.get(f"/v1/audits/{job_id}", headers=headers)
    assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"


def test_another_owners_audit_is_not_found(client, keys, service):
    other = service.access.create_key("carol", ("audit",), service.studio.clock())[1]
    job_id = client.post("/v1/audits", headers=bearer(keys["audit"]),
                         files=[("files", ("human.wav", HUMAN_RECORDING.read_bytes(), "audio/wav"))]).json()["job_id"]
    assert client.get(f"/v1/audits/{job_id}", headers=bearer(other)).status_code == 404
    assert client.get(f"/v1/audits/{job_id}/report", headers=bearer(other)).status_code == 404
