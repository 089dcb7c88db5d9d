"""The user's chosen stack installs and works on this CPU-only machine."""
import numpy as np


def test_coqui_tts_imports_and_torchaudio_decodes_through_torchcodec(tmp_path):
    from voicekit.engines import torch_runtime

    torch_runtime.prepare()
    import soundfile as sf
    import torchaudio
    import TTS  # noqa: F401
    from TTS.api import TTS as CoquiTTS  # noqa: F401

    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)).astype(np.float32)
    sf.write(tmp_path / "tone.wav", tone, 16000)
    waveform, rate = torchaudio.load(str(tmp_path / "tone.wav"))
    assert rate == 16000
    assert waveform.shape == (1, 8000)
    assert np.allclose(waveform.numpy()[0], tone, atol=1e-3)


def test_resemblyzer_and_webrtcvad_import():
    import webrtcvad
    from resemblyzer import VoiceEncoder  # noqa: F401

    assert webrtcvad.Vad(2).is_speech(b"\x00\x00" * 160, 16000) is False
