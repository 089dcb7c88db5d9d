"""C2PA Content Credentials in released files, read back by c2pa-python's own Reader with this
installation's root as the only trust anchor."""
import io
import subprocess
import sys

import c2pa
import pytest
from cryptography import x509

from detection.content_credentials import open_credentials, read_manifest


def _reader_state(data: bytes, mime: str, root_pem: bytes) -> tuple[str, dict, list[str]]:
    """c2pa's Reader, used directly (not through our wrapper): validation state, our assertion, failures."""
    context = c2pa.Context.from_dict({"verify": {"verify_trust": True, "remote_manifest_fetch": False,
                                                 "ocsp_fetch": False},
                                      "trust": {"trust_anchors": root_pem.decode()}})
    with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
        manifest = reader.get_active_manifest()
        ours = next(a["data"] for a in manifest["assertions"] if a["label"] == "org.voicekit.provenance")
        failures = [f["code"] for f in (reader.get_validation_results() or {}).get("activeManifest", {}).get("failure", [])]
        return reader.get_validation_state(), ours, failures


@pytest.fixture(scope="module")
def released(studio):
    return {fmt: studio.speak("These words carry their own signed credentials.", voice="heart", format=fmt)
            for fmt in ("wav", "mp3", "m4a", "flac")}


@pytest.mark.parametrize("fmt, mime", [("wav", "audio/wav"), ("mp3", "audio/mpeg"), ("m4a", "audio/mp4"),
                                       ("flac", "audio/flac")])
def test_a_released_file_carries_a_trusted_manifest_naming_its_ledger_entry(studio, released, fmt, mime):
    result = released[fmt]
    state, ours, failures = _reader_state(result.encoded, mime, studio.credentials.root_pem)
    assert state == "Trusted" and failures == []
    entry = result.provenance
    assert ours["ledger_entry_hash"] == entry["hash"] and ours["ledger_seq"] == entry["seq"]
    assert ours["mark_id"] == f"{result.mark_id:08x}" and ours["voice"] == "heart"
    assert ours["consent_record_sha256"] == entry["body"]["voice_record_sha256"]
    assert entry["body"]["c2pa"] == {"embedded": True}
    assert studio.detect(result.encoded).mark_id == result.mark_id  # the manifest left the mark alone


def test_a_flipped_pcm_byte_fails_validation(studio, released):
    data = bytearray(released["wav"].encoded)
    data[data.find(b"data") + 8 + 2000] ^= 1
    state, _, failures = _reader_state(bytes(data), "audio/wav", studio.credentials.root_pem)
    assert state == "Invalid" and "assertion.dataHash.mismatch" in failures


def test_another_installations_root_does_not_vouch_for_our_files(studio, released, tmp_path):
    stranger = open_credentials(tmp_path / "other")
    found = read_manifest(released["mp3"].encoded, "mp3", [stranger.root_pem])
    assert found["present"] and found["state"] == "Valid"  # intact, but not signed by a chain trusted here
    assert read_manifest(released["mp3"].encoded, "mp3", [studio.credentials.root_pem])["state"] == "Trusted"


def test_the_signing_certificate_is_issued_by_the_root_not_self_signed(studio):
    chain = x509.load_pem_x509_certificates(studio.credentials.chain_pem)
    signer, root = chain
    assert signer.issuer == root.subject and signer.issuer != signer.subject
    assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    signer.verify_directly_issued_by(root)


@pytest.mark.parametrize("fmt", ["opus", "aac"])
def test_formats_without_room_for_a_manifest_say_so_in_the_provenance(studio, fmt):
    result = studio.speak("No manifest fits in this container.", voice="joe", format=fmt)
    assert result.provenance["body"]["c2pa"] == {"embedded": False,
                                                 "reason": f"{fmt} files cannot hold a C2PA manifest"}
    assert read_manifest(result.encoded, fmt, [studio.credentials.root_pem])["present"] is False


def test_keys_are_encrypted_with_the_passphrase_and_a_wrong_one_is_refused(tmp_path):
    from detection.errors import CredentialsError

    made = open_credentials(tmp_path / "c2pa", b"correct horse")
    assert b"ENCRYPTED" in (tmp_path / "c2pa" / "root.key").read_bytes()
    assert b"ENCRYPTED" in (tmp_path / "c2pa" / "signer.key").read_bytes()
    assert (tmp_path / "c2pa" / "signer.key").stat().st_mode & 0o077 == 0
    assert open_credentials(tmp_path / "c2pa", b"correct horse").chain_pem == made.chain_pem
    with pytest.raises(CredentialsError, match="wrong passphrase"):
        open_credentials(tmp_path / "c2pa", b"wrong")


def test_an_end_entity_near_expiry_is_reissued_under_the_same_root(tmp_path):
    first = open_credentials(tmp_path / "c2pa", now=1_800_000_000.0)
    later = open_credentials(tmp_path / "c2pa", now=1_800_000_000.0 + 720 * 86400)  # 10 days before expiry
    assert later.root_pem == first.root_pem and later.chain_pem != first.chain_pem
    x509.load_pem_x509_certificates(later.chain_pem)[0].verify_directly_issued_by(
        x509.load_pem_x509_certificate(first.root_pem))


def test_keys_export_public_prints_the_c2pa_root(studio):
    run = subprocess.run([sys.executable, "-m", "voicekit.cli", "--home", str(studio.home), "keys", "export-public"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert studio.credentials.root_pem.decode().strip() in run.stdout
    assert f"C2PA root certificate (trust it to validate Content Credentials), SHA-256 " \
           f"{studio.credentials.root_fingerprint}" in run.stdout
