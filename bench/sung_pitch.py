"""A sung take measured against its score: pitch (cents), vowel onsets, voicing. Shared by
bench/singing.py and bench/songs.py; the method is described in bench/singing.py's docstring."""
from __future__ import annotations

import numpy as np


def measure(result, score, lead_s: float) -> dict:
    import pyworld
    from scipy.signal import butter, sosfilt

    from voicekit.singing.render import midi_hz

    x, rate = result.audio.astype(np.float64), result.sample_rate
    f0, times = pyworld.harvest(x, rate, frame_period=10, f0_floor=60, f0_ceil=1100)
    band = sosfilt(butter(4, [700, 2000], btype="band", fs=rate, output="sos"), x)
    hop = rate // 100
    energy = np.array([np.mean(band[i * hop:(i + 1) * hop] ** 2) for i in range(len(times))])
    cents, notes_ok, onset_errors, voiced_in, unvoiced_in = [], [], [], [], []
    previous_end = None
    for k, n in enumerate(score.notes):
        a, b = lead_s + score.seconds(n.start), lead_s + score.seconds(n.end)
        inside = (times >= a + 0.08) & (times <= b - 0.04)
        voiced = inside & (f0 > 0)
        if voiced.any():
            c = 1200 * np.log2(f0[voiced] / midi_hz(n.pitch))
            cents += list(np.abs(c))
            notes_ok.append(abs(float(np.median(c))) <= 50)
        else:
            notes_ok.append(False)
        core = (times >= a + 0.1) & (times <= b - 0.1)
        voiced_in += list(f0[core] > 0)
        if n.lyric and n.lyric != "_":  # a syllable starts here: where does its vowel start?
            level = np.median(energy[inside]) if inside.any() else 0.0
            window = np.flatnonzero((times >= a - 0.15) & (times <= b))
            loud = energy[window] >= 0.5 * level
            # Only where the energy rises: a vowel that follows a vowel ("are you") has no onset to find.
            if level > 0 and len(window) and not loud[0] and loud.any():
                onset_errors.append(abs(times[window[np.argmax(loud)]] - a))
        if previous_end is not None and a - previous_end >= 0.3:
            rest = (times >= previous_end + 0.1) & (times <= a - 0.1)
            unvoiced_in += list(f0[rest] == 0)
        previous_end = b
    checks = voiced_in + unvoiced_in
    cents = cents or [float("nan")]  # nothing voiced inside any note
    onset_errors = onset_errors or [float("nan")]
    return {
        "pitch_median_cents": round(float(np.median(cents)), 1),
        "pitch_p90_cents": round(float(np.percentile(cents, 90)), 1),
        "notes_within_50_cents": round(float(np.mean(notes_ok)), 3),
        "vowel_onset_median_ms": round(1000 * float(np.median(onset_errors)), 1),
        "voicing_error": round(1 - float(np.mean(checks)), 3),
    }
