"""Signed audit reports: a third party checks one with the key it names; any changed byte fails."""
import json

import pytest

from consent.keys import RegistryKeys
from detection.errors import ReportInvalid, ReportTampered
from detection.report import audio_files, signed_report, summary, verify_report


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return RegistryKeys.open(tmp_path_factory.mktemp("keys"))


def _body():
    rows = [{"path": "a.wav", "verdict": "ours", "p_value": 1e-40}, {"path": "b.txt", "verdict": "unreadable"}]
    return {"created": 1.0, "files": rows, "summary": summary(rows)}


def test_a_signed_report_verifies_and_names_its_key(keys):
    document = signed_report(_body(), keys)
    assert verify_report(json.dumps(document)) == keys.current_key_id
    assert verify_report(json.dumps(document).encode(), public_key=keys.public_key_hex(keys.current_key_id))
    assert document["report"]["summary"] == {"ours": 1, "marked-unattributed": 0, "record-invalid": 0, "no-mark": 0,
                                                  "unreadable": 1}


@pytest.mark.parametrize("change", [
    lambda d: d["report"]["files"][0].update(verdict="no-mark"),
    lambda d: d["report"]["files"][0].update(p_value=2e-40),
    lambda d: d["report"].update(created=2.0),
    lambda d: d["signature"].update(value=d["signature"]["value"][:-4] + "AAA="),
])
def test_any_changed_content_or_signature_fails(keys, change):
    document = signed_report(_body(), keys)
    change(document)
    with pytest.raises(ReportTampered):
        verify_report(document)


def test_every_single_byte_flip_of_the_file_fails(keys):
    """Flip each byte of the saved report in turn: it either stops being a report or fails to verify."""
    text = json.dumps(signed_report(_body(), keys)).encode()
    for i in range(0, len(text), 7):
        changed = bytearray(text)
        changed[i] ^= 0x01
        with pytest.raises((ReportTampered, ReportInvalid)):
            key_id = verify_report(bytes(changed))
            # A flip inside insignificant JSON whitespace would keep the content: none is there.
            pytest.fail(f"byte {i} changed and the report still verified (key {key_id})")


def test_a_report_signed_by_another_key_or_with_a_swapped_key_fails(keys, tmp_path):
    other = RegistryKeys.open(tmp_path / "other")
    document = signed_report(_body(), other)
    with pytest.raises(ReportTampered, match="not by the key given"):
        verify_report(document, public_key=keys.public_key_hex(keys.current_key_id))
    document["public_key"] = keys.public_key_hex(keys.current_key_id)  # re-labelled with our key
    with pytest.raises(ReportTampered):
        verify_report(document)


@pytest.mark.parametrize("data", [b"not json", b"{}", b'{"format": "something-else/1"}', b"[1, 2]"])
def test_what_is_not_a_report_says_so(data):
    with pytest.raises(ReportInvalid, match="not a voicekit audit report"):
        verify_report(data)


def test_folders_are_listed_sorted_without_hidden_files_and_missing_paths_are_kept(tmp_path):
    for name in ("b.wav", "a.mp3", ".hidden.wav", "sub/c.flac", "sub/.git/x.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in audio_files([tmp_path])] == ["a.mp3", "b.wav"]
    assert [p.relative_to(tmp_path).as_posix() for p in audio_files([tmp_path], recursive=True)] == [
        "a.mp3", "b.wav", "sub/c.flac"]
    assert audio_files([tmp_path / "gone.wav"]) == [tmp_path / "gone.wav"]
