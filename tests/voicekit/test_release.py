"""The one release path: loudness, reproducible renders, limits, and the checks repeated while a
stream or a long render is under way."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from consent.errors import ConsentExpired
from consent.profiles import VoiceProfile
from detection.decoding import decode_bytes
from detection.errors import AudioTooLong
from voicekit import Studio, loudness
from voicekit.errors import TooLong
from voicekit.studio import MAX_RENDERED_S, SpeechOptions
from voicekit.studio.rendering import segments

TEXTS = ["Hello.", "The harbour lights came on one by one as the evening ferry pulled away.",
         "What? No way. Absolutely not, never!", "Seventeen gulls, 3 boats and a lighthouse at 42 Quay Street."]


@pytest.mark.parametrize("voice", ["heart", "joe"])
@pytest.mark.parametrize("preset", ["speech", "acx"])
def test_every_output_is_at_its_loudness_target_and_below_full_scale(studio, voice, preset):
    target = loudness.preset(preset)
    for text in TEXTS:
        result = studio.speak(text, voice, SpeechOptions(loudness=preset, format="wav"))
        measured = loudness.loudness_lufs(result.audio, result.sample_rate)
        assert measured == pytest.approx(target.lufs, abs=1.0), (text, measured)
        assert loudness.true_peak_dbtp(result.audio) <= target.ceiling_dbtp + 0.2, text
        assert np.max(np.abs(result.audio)) < 0.99
        assert result.provenance["body"]["loudness"]["preset"] == preset


@pytest.mark.parametrize("voice", ["heart", "joe"])
@pytest.mark.parametrize("rate", [16000, 24000, 44100])
def test_loudness_is_measured_as_pyloudnorm_measures_it(studio, voice, rate):
    import pyloudnorm

    from voicekit import audio

    engine = studio.engine(voice)
    speech = audio.resample(engine.synthesize(" ".join(TEXTS[1:])), engine.sample_rate, rate).astype(np.float64)
    reference = pyloudnorm.Meter(rate).integrated_loudness(speech)
    assert loudness.loudness_lufs(speech, rate) == pytest.approx(reference, abs=0.05)


def test_acx_chapters_meet_the_platform_levels(studio):
    result = studio.speak(" ".join(TEXTS), "joe", SpeechOptions(loudness="acx", format="mp3"))
    rms_db = 20 * np.log10(np.sqrt(np.mean(result.audio**2)))
    assert -23 <= rms_db <= -18 and 20 * np.log10(np.max(np.abs(result.audio))) <= -3


@pytest.mark.parametrize("voice", ["heart", "joe"])
def test_the_same_request_renders_the_same_samples(studio, voice):
    """Every random source in rendering is seeded from the request (Piper's noise from the phonemes,
    heart's vocoder noise), so two renders differ only by their marks."""
    options = SpeechOptions(rate=1.1, pitch=2.0, style="cheerful")
    rendered = []
    for _ in range(2):
        request = studio._request(TEXTS[1] + " " + TEXTS[2], voice, options, None)
        pieces = list(segments(request, studio.voices, lambda: studio.aligner, False))
        rendered.append(np.concatenate([p.samples for p in pieces]))
    assert np.array_equal(*rendered)
    marked = [studio.watermarker.embed(loudness.normalized(r, 24000, loudness.DEFAULT), 24000, 0x1234ABCD)
              for r in rendered]
    assert np.array_equal(*marked)


def test_a_stream_stops_within_one_chunk_when_consent_expires(tmp_path):
    now = [1_000_000.0]
    studio = Studio(home=tmp_path, clock=lambda: now[0])
    studio.registry.register(VoiceProfile(
        voice_id="guest", kind="house", engine="joe", display_name="Guest", licence="a licence that ends",
        scopes=("tts",), created_at=now[0], expires_at=now[0] + 60), now=now[0])
    chunks = iter(studio.stream(" ".join(TEXTS), voice="guest"))
    next(chunks)
    now[0] += 120
    with pytest.raises(ConsentExpired):
        next(chunks)


def test_breaks_past_the_rendered_limit_are_refused_before_rendering(studio):
    breaks = '<break time="10s"/>' * (int(MAX_RENDERED_S // 10) + 1)
    with pytest.raises(TooLong, match="breaks alone"):
        studio.speak(f"<speak>Hello.{breaks}</speak>", ssml=True)
    with pytest.raises(TooLong, match="characters"):
        studio.speak("word " * 30_000)


def test_an_upload_of_hours_of_silence_is_refused_from_its_header(studio):
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", 8000, 1, format="FLAC") as f:
        for _ in range(60):  # an hour of silence in about 100 kB
            f.write(np.zeros(8000 * 60, np.float32))
    data = buffer.getvalue()
    assert len(data) < 2_000_000
    with pytest.raises(AudioTooLong):
        decode_bytes(data, max_seconds=900)
    with pytest.raises(AudioTooLong):
        studio.detect(data)
    samples, rate = decode_bytes(data)  # without a limit (a local file the user chose) it decodes
    assert len(samples) == 3600 * rate
