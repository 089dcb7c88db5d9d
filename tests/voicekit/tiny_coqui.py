"""A small coqui-tts VITS model with a speaker encoder (YourTTS's layout), built and saved by the tests.

Its weights are random: it babbles rather than speaks. That is enough to test the plumbing (loading a
model folder, conditioning on reference audio, the guarded path), not the voice; the cloning quality
of the conversion default is measured in bench/cloning.py.
"""
from __future__ import annotations

import json
from pathlib import Path

ENCODER_DIM = 16
SPEAKERS = ("ana", "ben")


def build_tiny_vits(folder: Path, seed: int = 0) -> Path:
    """Write config.json, model.pth and the speaker encoder's files into `folder` (about 6 MB)."""
    import torch

    from voicekit.engines import torch_runtime

    torch_runtime.prepare()
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.encoder.configs.speaker_encoder_config import SpeakerEncoderConfig
    from TTS.encoder.utils.generic_utils import setup_encoder_model
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    encoder_config = SpeakerEncoderConfig(
        audio=BaseAudioConfig(num_mels=40, sample_rate=16000),
        model_params={"model_name": "lstm", "input_dim": 40, "proj_dim": ENCODER_DIM, "lstm_dim": 32,
                      "num_lstm_layers": 1, "use_torch_spec": False},
        num_loader_workers=0, num_classes_in_batch=1, num_utter_per_class=1,
    )
    torch.save({"model": setup_encoder_model(encoder_config).state_dict()}, folder / "encoder.pth")
    encoder_config.save_json(str(folder / "encoder_config.json"))
    # Two stored speakers, as YourTTS ships its training speakers; cloning computes its own d-vector.
    speakers = {f"{name}.wav": {"name": name, "embedding": [float(i == k) for k in range(ENCODER_DIM)]}
                for i, name in enumerate(SPEAKERS)}
    (folder / "speakers.json").write_text(json.dumps(speakers), encoding="utf-8")
    args = VitsArgs(
        hidden_channels=32, hidden_channels_ffn_text_encoder=64, num_heads_text_encoder=2,
        num_layers_text_encoder=2, num_layers_flow=2, num_layers_posterior_encoder=4,
        upsample_rates_decoder=[8, 8, 4], upsample_initial_channel_decoder=64,
        upsample_kernel_sizes_decoder=[16, 16, 8], resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]], init_discriminator=False,
        use_d_vector_file=True, d_vector_dim=ENCODER_DIM, d_vector_file=[str(folder / "speakers.json")],
        speaker_encoder_model_path=str(folder / "encoder.pth"),
        speaker_encoder_config_path=str(folder / "encoder_config.json"),
    )
    config = VitsConfig(model_args=args, use_phonemes=False, text_cleaner="english_cleaners")
    config.audio.sample_rate = 16000
    torch.save({"model": Vits(config).state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder
