"""The edit suite: AudioSeal's evaluation edits at their strengths, run on synthetic signals."""
import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from detection import edits
from detection.edits import ALL_EDITS, AUDIOSEAL_EDITS, EXTRA_EDITS, INVARIANCE_EDITS, by_name

CODECS = ["aac_64k", "mp3_32k", "mp3_128k"]


def tones(rate: int, seconds: float = 2.0) -> np.ndarray:
    """440 Hz + 1 kHz, peak 0.5, float32."""
    t = np.arange(round(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)


def white(rate: int, seconds: float, std: float = 0.1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, std, round(rate * seconds)).astype(np.float32)


def band_power(x: np.ndarray, rate: int, low: float, high: float) -> float:
    """Mean power per FFT bin between `low` and `high` Hz."""
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(power[(freqs >= low) & (freqs < high)].mean())


def best_lag(reference: np.ndarray, edited: np.ndarray, max_lag: int = 3000) -> tuple[int, float]:
    """(delay in samples of `edited` behind `reference`, Pearson correlation) at the best delay."""
    best = (0, -1.0)
    for lag in range(max_lag + 1):
        a, b = reference[: len(reference) - lag], edited[lag:]
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best[1]:
            best = (lag, r)
    return best


def test_the_suite_is_audioseals_list_without_encodec_plus_mp3_128k_crop_and_the_invariance_edits():
    assert [e.name for e in AUDIOSEAL_EDITS] == [
        "identity", "bandpass", "highpass", "lowpass", "speed", "resample", "boost", "duck",
        "echo", "pink_noise", "white_noise", "smooth", "aac_64k", "mp3_32k",
    ]
    assert [e.name for e in EXTRA_EDITS] == ["mp3_128k", "crop_3s"]
    assert [e.name for e in INVARIANCE_EDITS] == [
        "pitch_up_1", "pitch_down_1", "pitch_up_3", "pitch_down_3", "tempo_0.85", "tempo_1.15", "speed_0.9",
        "speed_1.15", "reverb", "music_0db",
    ]
    assert ALL_EDITS == AUDIOSEAL_EDITS + EXTRA_EDITS + INVARIANCE_EDITS
    assert not any("encodec" in e.name for e in ALL_EDITS)
    assert "EnCodec" in edits.__doc__


def test_by_name_finds_each_edit_and_names_the_known_ones_when_it_cannot():
    for edit in ALL_EDITS:
        assert by_name(edit.name) is edit
    with pytest.raises(KeyError, match="known: identity, bandpass"):
        by_name("encodec")


def test_importing_the_suite_loads_no_codec():
    import subprocess
    import sys

    code = "import sys, detection.edits; print('av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_edits_are_frozen():
    with pytest.raises(AttributeError):
        by_name("boost").name = "quiet"


@pytest.mark.parametrize("rate", [16000, 24000])
@pytest.mark.parametrize("edit", ALL_EDITS, ids=lambda e: e.name)
def test_every_edit_returns_float32_mono_at_the_same_rate_deterministically(edit, rate):
    x = (tones(rate, 4.0) + white(rate, 4.0, 0.02)).astype(np.float64)  # float64 in is accepted
    out, out_rate = edit.apply(x, rate, np.random.default_rng(7))
    again, _ = edit.apply(x, rate, np.random.default_rng(7))
    assert out.dtype == np.float32 and out.ndim == 1 and out_rate == rate
    assert np.isfinite(out).all()
    assert np.array_equal(out, again)
    expected = {"speed": len(x) / 1.25, "crop_3s": 3 * rate, "speed_0.9": len(x) / 0.9, "speed_1.15": len(x) / 1.15,
                "tempo_0.85": len(x) / 0.85, "tempo_1.15": len(x) / 1.15}.get(edit.name, len(x))
    assert abs(len(out) - expected) <= (0.01 * len(x) if edit.name.startswith("tempo") else 2)


def test_stereo_input_is_refused():
    with pytest.raises(ValueError, match="mono"):
        by_name("duck").apply(np.zeros((2, 100), np.float32), 16000, np.random.default_rng(0))


@pytest.mark.parametrize(
    "name, passband, stopbands",
    [
        ("lowpass", (50, 400), [(1500, 12000)]),
        ("highpass", (2500, 11000), [(20, 500)]),
        ("bandpass", (800, 4000), [(20, 150), (10000, 12000)]),
    ],
)
def test_filters_remove_their_stop_band(name, passband, stopbands):
    rate = 24000
    x = white(rate, 4.0)
    out, _ = by_name(name).apply(x, rate, np.random.default_rng(0))
    assert band_power(out, rate, *passband) > 0.5 * band_power(x, rate, *passband)
    for band in stopbands:
        assert band_power(out, rate, *band) < 1e-2 * band_power(x, rate, *band)


def test_bandpass_above_nyquist_becomes_a_highpass_at_8k():
    out, rate = by_name("bandpass").apply(white(8000, 2.0), 8000, np.random.default_rng(0))
    assert band_power(out, rate, 20, 150) < 1e-2 * band_power(out, rate, 1000, 3900)


def test_boost_multiplies_by_ten_and_clips_to_full_scale():
    x = np.array([0.01, -0.02, 0.5, -0.5, 0.09], np.float32)
    out, _ = by_name("boost").apply(x, 16000, np.random.default_rng(0))
    assert np.allclose(out, [0.1, -0.2, 1.0, -1.0, 0.9])


def test_duck_divides_by_ten():
    x = tones(16000, 0.5)
    out, _ = by_name("duck").apply(x, 16000, np.random.default_rng(0))
    assert np.allclose(out, 0.1 * x)


def test_echo_adds_the_copy_half_a_second_later_at_half_volume():
    rate = 16000
    x = np.zeros(rate, np.float32)
    x[100], x[3000] = 0.4, -0.2
    out, _ = by_name("echo").apply(x, rate, np.random.default_rng(0))
    expected = x.copy()
    expected[100 + rate // 2] += 0.2
    expected[3000 + rate // 2] -= 0.1
    assert len(out) == len(x) and np.allclose(out, expected)


def test_echo_scales_down_only_when_the_sum_would_clip():
    rate = 16000
    x = np.zeros(rate, np.float32)
    x[100] = x[100 + rate // 2] = 0.8  # the echo lands on the second click: 0.8 + 0.4
    out, _ = by_name("echo").apply(x, rate, np.random.default_rng(0))
    assert np.max(np.abs(out)) == pytest.approx(1.0)
    assert out[100] == pytest.approx(0.8 / 1.2)


@pytest.mark.parametrize("name, sigma", [("pink_noise", 0.1), ("white_noise", 0.05)])
@pytest.mark.parametrize("rate", [16000, 24000])
def test_noises_have_the_requested_standard_deviation(name, sigma, rate):
    x = tones(rate, 3.0)
    out, _ = by_name(name).apply(x, rate, np.random.default_rng(3))
    assert np.std(out - x) == pytest.approx(sigma, rel=0.1)


def test_pink_noise_has_equal_power_per_octave():
    rate = 24000
    noise, _ = by_name("pink_noise").apply(np.zeros(rate * 8, np.float32), rate, np.random.default_rng(1))
    octave = [band_power(noise, rate, f, 2 * f) * f for f in (100, 400, 1600, 6400)]  # mean x width
    assert max(octave) / min(octave) < 1.5


def test_white_noise_differs_with_the_generator():
    x = np.zeros(1000, np.float32)
    a, _ = by_name("white_noise").apply(x, 16000, np.random.default_rng(1))
    b, _ = by_name("white_noise").apply(x, 16000, np.random.default_rng(2))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("rate", [16000, 24000])
def test_smoothing_window_is_40_samples_at_16k_scaled_to_the_rate(rate):
    """A moving average over 2.5 ms has a null at 400 Hz whatever the rate; DC passes."""
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 400 * t).astype(np.float32)
    out, _ = by_name("smooth").apply(tone, rate, np.random.default_rng(0))
    assert np.max(np.abs(out[rate // 10 :])) < 1e-3
    dc, _ = by_name("smooth").apply(np.full(rate, 0.5, np.float32), rate, np.random.default_rng(0))
    assert np.allclose(dc[rate // 10 :], 0.5)


def test_speed_shortens_by_1_25_and_raises_the_pitch():
    rate = 24000
    t = np.arange(2 * rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    out, out_rate = by_name("speed").apply(tone, rate, np.random.default_rng(0))
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.fft.rfftfreq(len(out), 1 / out_rate)[np.argmax(spectrum)]
    assert out_rate == rate and len(out) == pytest.approx(2 * rate / 1.25, abs=2)
    assert peak_hz == pytest.approx(1250, abs=2)


def test_resampling_via_32k_keeps_a_band_limited_signal():
    rate = 24000
    sos = butter(8, 8000, "lowpass", fs=rate, output="sos")
    x = sosfilt(sos, white(rate, 2.0)).astype(np.float32)
    out, _ = by_name("resample").apply(x, rate, np.random.default_rng(0))
    assert np.corrcoef(x[1000:-1000], out[1000:-1000])[0, 1] > 0.999


@pytest.mark.parametrize("name", CODECS)
@pytest.mark.parametrize("rate", [16000, 24000])
def test_codec_round_trips_go_through_pyav_and_keep_the_tones(monkeypatch, name, rate):
    import av

    formats = []
    real_open = av.open

    def spy_open(file, mode="r", **kwargs):
        formats.append((mode, kwargs.get("format")))
        return real_open(file, mode, **kwargs)

    monkeypatch.setattr(av, "open", spy_open)
    x = tones(rate)
    out, out_rate = by_name(name).apply(x, rate, np.random.default_rng(0))
    assert out_rate == rate and len(out) == len(x) and out.dtype == np.float32
    assert formats == [("w", "adts" if name.startswith("aac") else "mp3"), ("r", None)]
    assert not np.array_equal(out, x)  # lossy: it really was encoded
    _, r = best_lag(x, out)
    assert r > 0.9


@pytest.mark.parametrize("name, lag", [("aac_64k", 1024), ("mp3_32k", 0), ("mp3_128k", 0)])
@pytest.mark.parametrize("rate", [16000, 24000])
def test_codec_delay_is_left_as_a_real_decoder_leaves_it(name, lag, rate):
    """AAC in ADTS keeps its 1024 priming samples; MP3's LAME header lets FFmpeg remove its delay."""
    x = sosfilt(butter(8, 3000, "lowpass", fs=rate, output="sos"), white(rate, 2.0, 0.2)).astype(np.float32)
    out, _ = by_name(name).apply(x, rate, np.random.default_rng(0))
    found, r = best_lag(x, out, max_lag=2048)
    assert found == lag and r > 0.9


def test_a_rate_the_encoder_lacks_goes_through_its_nearest_rate():
    rate = 96000  # MP3 tops out at 48 kHz
    x = tones(rate, 1.0)
    out, out_rate = by_name("mp3_128k").apply(x, rate, np.random.default_rng(0))
    assert out_rate == rate and len(out) == len(x)
    assert best_lag(x, out, max_lag=200)[1] > 0.9


def test_crop_takes_3_seconds_at_a_seeded_place():
    rate = 16000
    x = np.arange(10 * rate, dtype=np.float32) / (10 * rate)
    crop = by_name("crop_3s")
    a, _ = crop.apply(x, rate, np.random.default_rng(5))
    b, _ = crop.apply(x, rate, np.random.default_rng(5))
    starts = {int(round(crop.apply(x, rate, np.random.default_rng(s))[0][0] * 10 * rate)) for s in range(5)}
    assert len(a) == 3 * rate and np.array_equal(a, b)
    start = int(round(a[0] * 10 * rate))
    assert np.array_equal(a, x[start : start + 3 * rate])
    assert len(starts) > 1


def test_crop_returns_a_short_clip_whole():
    x = tones(16000, 2.5)
    out, _ = by_name("crop_3s").apply(x, 16000, np.random.default_rng(0))
    assert np.array_equal(out, x)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("name, pitch, duration", [
    ("pitch_up_1", 2 ** (1 / 12), 1.0), ("pitch_down_3", 2 ** (-3 / 12), 1.0), ("tempo_0.85", 1.0, 1 / 0.85),
    ("tempo_1.15", 1.0, 1 / 1.15), ("speed_0.9", 0.9, 1 / 0.9), ("speed_1.15", 1.15, 1 / 1.15),
])
def test_pitch_tempo_and_speed_move_what_they_say(name, pitch, duration):
    rate = 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(4 * rate) / rate)).astype(np.float32)
    out, _ = by_name(name).apply(tone, rate, np.random.default_rng(0))
    assert peak_hz(out[rate // 2: -rate // 2], rate) == pytest.approx(440 * pitch, rel=0.01)
    assert len(out) / len(tone) == pytest.approx(duration, rel=0.01)


def test_reverb_adds_a_decaying_tail_to_a_click():
    rate = 16000
    click = np.zeros(rate, np.float32)
    click[1000] = 0.9
    out, _ = by_name("reverb").apply(click, rate, np.random.default_rng(0))
    assert np.sqrt(np.mean(out[4000:8000] ** 2)) > 1e-4 > np.sqrt(np.mean(click[4000:8000] ** 2))


def test_mixing_sets_the_background_to_the_asked_snr():
    rate = 16000
    x = tones(rate, 3.0)
    for edit, snr in ((by_name("music_0db"), 0.0), (edits.mixed("babble", white(rate, 1.0), rate, 10.0), 10.0)):
        out, _ = edit.apply(x, rate, np.random.default_rng(4))
        added = out - x
        assert 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(added ** 2)) == pytest.approx(snr, abs=0.01)
    with pytest.raises(ValueError, match="non-silent mono"):
        edits.mixed("nothing", np.zeros(100), rate)
