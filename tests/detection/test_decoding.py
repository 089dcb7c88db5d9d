"""What decode_bytes reads (soundfile first, then FFmpeg for AAC and MP4) and how it refuses."""
import numpy as np
import pytest
import soundfile as sf

from detection.decoding import decode_bytes
from detection.errors import UnreadableAudio


def test_bytes_neither_decoder_reads_are_refused_naming_both():
    noise = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    for data in (b"not audio", noise):
        with pytest.raises(UnreadableAudio, match="not a readable audio file.*soundfile: .*FFmpeg: "):
            decode_bytes(data)
    with pytest.raises(UnreadableAudio, match="empty"):
        decode_bytes(b"")


def test_a_playlist_is_not_followed_to_the_files_it_names(tmp_path, monkeypatch):
    """Unrestricted, FFmpeg's concat demuxer would open ./secret.wav from an uploaded text file."""
    monkeypatch.chdir(tmp_path)
    sf.write("secret.wav", np.zeros(800, np.float32), 8000)
    for playlist in ("ffconcat version 1.0\nfile 'secret.wav'\n", "#EXTM3U\n#EXTINF:1,\nsecret.wav\n#EXT-X-ENDLIST\n"):
        with pytest.raises(UnreadableAudio):
            decode_bytes(playlist.encode())


def test_mp3_decodes_without_a_word_on_stderr(studio):
    """libsndfile's mpg123 prints "part2_3_length too large" for frames LAME writes in loud
    passages; MP3 is decoded by FFmpeg, which gives the same samples and prints nothing."""
    import subprocess
    import sys

    code = ("import tempfile\nfrom voicekit import Studio\n"
            "s = Studio(home=tempfile.mkdtemp())\n"
            "for text in ('The harbour lights came on one by one as the evening ferry pulled away. What? No way!',"
            " 'Hello there, Margaret.'):\n"
            "    for voice in ('heart', 'joe'):\n"
            "        s.speak(text, voice, format='mp3', loudness='acx')\n")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr
