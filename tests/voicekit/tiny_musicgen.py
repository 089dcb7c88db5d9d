"""A small MusicGen (text encoder, EnCodec and decoder of transformers' MusicGen layout) with a
word-level tokenizer, built and saved by the tests.

Its weights are random: it makes noise, not music. That is enough to test the plumbing (loading a
model folder, seeding, windows continued from the one before, a song's backing stem through the
release path); what a real MusicGen sounds like is the user's download (`voicekit models download
musicgen:small --accept-licence`), which the tests never make.
"""
from __future__ import annotations

from pathlib import Path

FRAME_RATE = 100  # EnCodec frames per second at 32 kHz with hops of 8*5*4*2
WINDOW_TOKENS = 260  # the decoder's positions: windows of about 2.5 s, so a song's backing is continued


def build_tiny_musicgen(folder: Path, seed: int = 0) -> Path:
    """Write config.json, model.safetensors and the tokenizer's files into `folder` (about 1 MB)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (EncodecConfig, MusicgenConfig, MusicgenDecoderConfig, MusicgenForConditionalGeneration,
                              PreTrainedTokenizerFast, T5Config)
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    torch.manual_seed(seed)
    text = T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    codec = EncodecConfig(sampling_rate=32000, audio_channels=1, num_filters=4, hidden_size=8, codebook_size=32,
                          codebook_dim=8, upsampling_ratios=[8, 5, 4, 2], num_residual_layers=1, num_lstm_layers=1,
                          target_bandwidths=[2.2], compress=2)
    decoder = MusicgenDecoderConfig(vocab_size=32, pad_token_id=32, bos_token_id=32, hidden_size=16,
                                    num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
                                    num_codebooks=codec.num_quantizers, max_position_embeddings=WINDOW_TOKENS)
    config = MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict(),
                            decoder_start_token_id=32, pad_token_id=32)
    model = MusicgenForConditionalGeneration(config)
    with torch.no_grad():  # EnCodec's codebooks start at zero (k-means fills them in training): every code would decode alike
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
    model.save_pretrained(folder)
    words = "pop ballad lofi folk waltz beat track piano acoustic instrumental backing with no vocals bpm time in"
    vocabulary = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>"] + words.split())}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(folder)
    return folder
