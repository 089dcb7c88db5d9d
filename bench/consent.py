"""Consent checks, measured: speaker-verification EER and threshold, statement acceptance and
attack rejection, and enrollment time for 30 s of references on one CPU core.

Speakers: real human speech from Debian packages (bench/setup.sh: Allison Smith from
asterisk-core-sounds-en-wav, the LibriVox reader and the "cards" speaker of pocketsphinx-testdata)
and synthetic voices as impostors (heart, joe, espeak-ng and flite voices, when installed).
Statements are read by engine voices rendered directly (no studio, no mark): nobody human can read
a fresh challenge for a benchmark.

Writes bench/results/consent.json and prints a table. Not a test: nothing here asserts a figure.
Usage: python bench/consent.py [--quick] [--repeats N]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import one_core

one_core.single_threaded()
one_core.pin_to_one_core()

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

RATE = 16000
# The package installs the prompts under en_US_f_Allison; `en` is a link that asterisk itself adds.
ASTERISK = next((p for p in (Path("/usr/share/asterisk/sounds/en"), Path("/usr/share/asterisk/sounds/en_US_f_Allison"))
                 if p.exists()), Path("/usr/share/asterisk/sounds/en"))
SPHINX = Path("/usr/share/pocketsphinx/test/data")
SENTENCES = [
    "The old lighthouse keeper climbed the winding stairs every evening to light the lamp.",
    "Rain had fallen all week, and the river was running high under the stone bridge.",
    "She packed a small bag with bread, cheese and apples before setting out at dawn.",
    "The children ran across the meadow, laughing, while their dog chased the butterflies.",
    "Every morning the baker opened his shop before the first bus came down the hill.",
    "A cold wind blew from the north, and the fishermen pulled their boats onto the sand.",
    "He wrote a long letter to his sister, folded it twice, and walked to the post office.",
    "The museum was quiet on Mondays, so the guards had time to talk about football.",
]
# Names the statement check was never tuned on (bench/consent_names.py's 40 were the tuning set):
# names ending in nasals, names with "no"/"not"-like syllables, one- and three-word names, and names
# missing from the CMU dictionary.
NAMES = [
    "Jasmine Khan", "Duncan Vaughn", "Marilyn Mann", "Gillian Rankin", "Logan Dillon", "Caitlin Brennan",
    "Ronan Keane", "Shannon Lyons", "Brandon Lin", "Kieran Glynn", "Nolan Knox", "Naomi Notley",
    "Nona Nolte", "Otto Noonan", "Knut Nordin", "Renata Nocera", "Norma Knotts", "Zendaya", "Bono", "Cher",
    "Nkechi", "Anna Maria Lopez", "Mary Kate Olsen", "Jean Luc Martin", "Sarah Jane Connolly",
    "Wojciech Szczepanski", "Ngozi Okonjo", "Tadhg Kavanagh", "Saoirse Keenan", "Kwame Nkrumah",
    "Yevgenia Navalnaya", "Dmitri Ivanov", "Priyanka Ranganathan", "Chidinma Nnamdi", "Hiroshi Tanaka",
    "Zhang Wei", "Thanh Nguyen", "Mehmet Ozturk", "Anh Tran", "Mary Jones", "Robert Miller", "Tom Okafor",
]
READERS = ["heart", "joe", "flite:slt", "flite:kal16", "flite:awb", "flite:rms"]
NEGATED = [
    lambda phrase: phrase.replace("agree", "do not agree", 1),
    lambda phrase: phrase.replace(" agree", " don't agree", 1),
    lambda phrase: phrase.replace("may create", "may never create", 1),
    lambda phrase: phrase + " I withdraw my consent.",
    lambda phrase: phrase.replace("agree", "refuse", 1),
    lambda phrase: phrase + " No.",
    lambda phrase: phrase.replace("may create", "may not create", 1),
    lambda phrase: phrase.replace("agree", "never agree", 1),
]


def _utterances(clips: list[np.ndarray], seconds: float = 5.0) -> list[np.ndarray]:
    """Join consecutive clips into utterances of at least `seconds`."""
    out, current = [], []
    for clip in clips:
        current.append(clip)
        if sum(len(c) for c in current) >= seconds * RATE:
            out.append(np.concatenate(current))
            current = []
    return out


def _load(path: Path) -> np.ndarray:
    from voicekit.audio import resample

    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    return resample(samples.mean(axis=1), rate, RATE)


def human_speakers() -> dict[str, list[np.ndarray]]:
    speakers = {}
    if ASTERISK.exists():
        files = sorted(ASTERISK.glob("*.wav"), key=lambda f: f.name)[::3][:120]
        speakers["human:allison"] = _utterances([_load(f) for f in files])[:12]
    if (SPHINX / "librivox").exists():
        speakers["human:librivox"] = _utterances([_load(f) for f in sorted((SPHINX / "librivox").glob("*.wav"))])
    if (SPHINX / "cards").exists():
        speakers["human:cards"] = _utterances([_load(f) for f in sorted((SPHINX / "cards").glob("*.wav"))], 3.0)
    return {k: v for k, v in speakers.items() if len(v) >= 2}


class Voices:
    """Synthetic voices that render text straight to 16 kHz samples, without the studio."""

    def __init__(self) -> None:
        from voicekit.engines import create

        self.engines = {name: create(name) for name in ("heart", "joe")}
        self.espeak = shutil.which("espeak-ng")
        self.flite = shutil.which("flite")

    def names(self) -> list[str]:
        names = ["heart", "joe"]
        if self.espeak:
            names += ["espeak:en-us", "espeak:en+f3", "espeak:en-gb+m3"]
        if self.flite:
            names += ["flite:slt", "flite:kal16", "flite:awb", "flite:rms"]
        return names

    def render(self, voice: str, text: str) -> np.ndarray:
        from voicekit.audio import resample

        if voice in self.engines:
            engine = self.engines[voice]
            return resample(engine.synthesize(text), engine.sample_rate, RATE)
        kind, name = voice.split(":")
        if kind == "espeak":
            wav = subprocess.run([self.espeak, "-v", name, "--stdout", text], capture_output=True, check=True).stdout
            samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
        else:
            with tempfile.NamedTemporaryFile(suffix=".wav") as f:
                subprocess.run([self.flite, "-voice", name, "-t", text, "-o", f.name], check=True)
                samples, rate = sf.read(f.name, dtype="float32")
        return resample(samples, rate, RATE)


def speaker_verification(speakers: dict[str, list[np.ndarray]], threshold: float) -> dict:
    """Each utterance against the centroid of its own speaker's other utterances (genuine) and of
    every other speaker's utterances (impostor)."""
    from consent.voiceprint import SpeakerEncoder, centroid, similarity, voiced_audio

    encoder = SpeakerEncoder()
    embedded = {s: [encoder.embed(voiced_audio(u)) for u in us] for s, us in speakers.items()}
    genuine, impostor, worst = [], [], {}
    for s, embs in embedded.items():
        for i, e in enumerate(embs):
            genuine.append(similarity(e, centroid(embs[:i] + embs[i + 1:])))
            for t, others in embedded.items():
                if t != s:
                    score = similarity(e, centroid(others))
                    impostor.append(score)
                    worst[f"{s} as {t}"] = max(worst.get(f"{s} as {t}", 0.0), score)
    genuine_a, impostor_a = np.array(genuine), np.array(impostor)
    grid = np.linspace(0, 1, 2001)
    far = np.array([(impostor_a >= t).mean() for t in grid])
    frr = np.array([(genuine_a < t).mean() for t in grid])
    k = int(np.argmin(np.abs(far - frr)))
    hardest = sorted(worst.items(), key=lambda kv: -kv[1])[:5]
    return {
        "speakers": {s: len(us) for s, us in speakers.items()},
        "genuine_trials": len(genuine), "impostor_trials": len(impostor),
        "eer": round(float((far[k] + frr[k]) / 2), 4), "eer_threshold": round(float(grid[k]), 3),
        "policy_threshold": threshold,
        "far_at_policy": round(float((impostor_a >= threshold).mean()), 4),
        "frr_at_policy": round(float((genuine_a < threshold).mean()), 4),
        "genuine_min": round(float(genuine_a.min()), 3), "impostor_max": round(float(impostor_a.max()), 3),
        "hardest_impostors": [{"pair": p, "similarity": round(v, 3)} for p, v in hardest],
    }


def _cause(failure: str) -> str:
    return failure.split(" (")[0].split(";")[0]


def statements(voices: Voices, quick: bool) -> dict:
    """Every name read by every reader, each with a fresh challenge; on the same readings the
    attacks: the reading offered for a fresh challenge of the same name (replay) and for another
    name's challenge with the same words, and a negated reading (NEGATED in turn)."""
    from consent.challenges import new_challenge
    from consent.statement import StatementChecker

    checker = StatementChecker()
    readers = [r for r in READERS if r in voices.names()]
    genuine: dict[str, list[bool]] = {v: [] for v in readers}
    attacks = {"negated": [0, 0], "replayed": [0, 0], "other_name": [0, 0]}
    causes: dict[str, int] = {}
    refusals, accepted_attacks = [], []
    started = time.perf_counter()
    for i, name in enumerate(NAMES):
        for j, voice in enumerate(readers):
            if quick and (i + j) % 3:
                continue
            challenge = new_challenge(name, now=0.0)
            reading = voices.render(voice, challenge.phrase)
            failures = checker.check(reading, name, challenge.nonce).failures()
            genuine[voice].append(not failures)
            for failure in failures:
                causes[_cause(failure)] = causes.get(_cause(failure), 0) + 1
            if failures:
                refusals.append({"name": name, "voice": voice, "why": failures})
            tries = [("negated", name, challenge.nonce, voices.render(voice, NEGATED[(i + j) % len(NEGATED)](
                challenge.phrase)))]
            if (i + j) % 2 == 0:
                other = NAMES[(i + 7) % len(NAMES)]
                tries += [("replayed", name, new_challenge(name, now=0.0).nonce, reading),
                          ("other_name", other, challenge.nonce, reading)]
            for kind, as_name, nonce, audio in tries:
                attacks[kind][0] += 1
                if not checker.check(audio, as_name, nonce).failures():
                    attacks[kind][1] += 1
                    accepted_attacks.append({"kind": kind, "name": name, "voice": voice})
    readings = sum(len(ok) for ok in genuine.values())
    return {
        "names": len(NAMES), "readers": readers, "readings": readings, "quick": quick,
        "genuine_acceptance": {v: round(float(np.mean(ok)), 3) for v, ok in genuine.items() if ok},
        "genuine_accepted": sum(sum(ok) for ok in genuine.values()),
        "genuine_acceptance_all": round(sum(sum(ok) for ok in genuine.values()) / max(readings, 1), 3),
        "refusals_by_cause": dict(sorted(causes.items(), key=lambda kv: -kv[1])),
        "attacks": {k: {"tried": n, "accepted": a} for k, (n, a) in attacks.items()},
        "accepted_attacks": accepted_attacks,
        "refusals": refusals,
        "seconds_per_check": round(
            (time.perf_counter() - started) / (readings + sum(n for n, _ in attacks.values())), 2),
    }


def enrollment_time(voices: Voices, repeats: int) -> dict:
    """Studio.enroll with about 30 s of references (heart, unmarked) and a genuine reading: in all,
    the clone fit it ends with (issue 5, timed by the fit itself), and the consent checks (the rest)."""
    from voicekit.studio import Studio

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        studio = Studio(home=folder / "home")
        references = []
        for i, text in enumerate(SENTENCES[:7]):
            path = folder / f"ref{i}.wav"
            sf.write(path, voices.render("heart", text), RATE)
            references.append(path)
        reference_s = sum(sf.info(p).duration for p in references)
        times, fits = [], []
        for i in range(repeats + 1):
            challenge = studio.consent_challenge("Mary Jones", nonce=("harbor", "pencil", "tiger", "violin"))
            sf.write(folder / "consent.wav", voices.render("heart", challenge.phrase), RATE)
            start = time.perf_counter()
            profile = studio.enroll(challenge.challenge_id, folder / "consent.wav", references)
            times.append(time.perf_counter() - start)
            fits.append(profile.details["voice"]["fit"]["seconds"])
    checks = [t - f for t, f in zip(times, fits)]
    return {"reference_s": round(reference_s, 1), "first_call_s": round(times[0], 2),
            "median_s": round(float(np.median(times[1:])), 2),
            "median_fit_s": round(float(np.median(fits[1:])), 2),
            "median_checks_s": round(float(np.median(checks[1:])), 2), "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every third (name, reader) pair only")
    parser.add_argument("--repeats", type=int, default=3, help="timed enrollments (default 3)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from consent.enrollment import EnrollmentPolicy

    voices = Voices()
    speakers = human_speakers()
    for voice in voices.names():
        speakers[f"synthetic:{voice}"] = [voices.render(voice, s) for s in SENTENCES[:6]]
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, one used",
        "speaker_verification": speaker_verification(speakers, EnrollmentPolicy().same_speaker),
        "statements": statements(voices, args.quick),
        "enrollment": enrollment_time(voices, args.repeats),
    }
    out = Path(__file__).resolve().parent / "results" / "consent.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    sv, st, en = result["speaker_verification"], result["statements"], result["enrollment"]
    print(f"speaker verification: EER {sv['eer']:.1%} at {sv['eer_threshold']:.3f}; policy threshold "
          f"{sv['policy_threshold']}: FAR {sv['far_at_policy']:.1%}, FRR {sv['frr_at_policy']:.1%} "
          f"({sv['genuine_trials']} genuine, {sv['impostor_trials']} impostor trials)")
    print(f"statements: {st['names']} names x {len(st['readers'])} readers, {st['readings']} readings")
    print("genuine acceptance: " + ", ".join(f"{v} {a:.0%}" for v, a in st["genuine_acceptance"].items())
          + f"; all {st['genuine_accepted']}/{st['readings']} ({st['genuine_acceptance_all']:.1%})")
    print("refusals by cause: " + (", ".join(f"{k} {n}" for k, n in st["refusals_by_cause"].items()) or "none"))
    print("attacks accepted: " + ", ".join(f"{k} {v['accepted']}/{v['tried']}" for k, v in st["attacks"].items()))
    print(f"enrollment, {en['reference_s']} s of references: {en['median_s']} s in all (first call "
          f"{en['first_call_s']} s): consent checks {en['median_checks_s']} s, clone fit {en['median_fit_s']} s")


if __name__ == "__main__":
    main()
