"""The statement check over 40 names the consent benchmark never used (nasal endings, "no"/"not"
syllables, one and three words, names outside the CMU dictionary), read by 6 synthetic voices with
fresh challenges, and 5 negated readings of every sixth challenge.

    python bench/consent_names.py [--quick] [--statement "My name is {name}. I agree ..."]

--quick takes every third (name, voice) pair; --statement tries another phrase. Writes
bench/results/consent_names.json and prints the figures and each refusal. Not a test: nothing is
asserted. These names are the ones the statement check was tuned on (issue 16); bench/consent.py
measures it on 42 names it never saw.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import one_core

one_core.single_threaded()

HERE = Path(__file__).resolve().parent
NAMES = ["Ann Lee", "Karen Quinn", "Jordan Bell", "Simon Nolan", "Evelyn Brown", "Morgan Dunn", "Ryan Coen",
         "Lauren Nguyen", "Sean Flynn", "Megan Lynn", "Gwen Jordan", "Aaron Mann", "Nora Knott", "Noah Nott",
         "Dana Nunn", "Kevin Kahn", "Ian", "Madonna", "Mary Ann Smith", "Juan Carlos Romero",
         "Siobhan O'Donnell", "Xiomara Zelenski", "Oluwaseun Adeyemi", "Thandiwe Nkosi", "Bjorn Lindqvist",
         "Niamh Donnelly", "Anand Krishnan", "Imogen Stone", "Benjamin Norton", "Colleen Dunne",
         "Connor Nolan", "Eileen Newton", "Declan Ronan", "Fiona Kenyon", "Hanan Nasser", "Jonah Ashton",
         "Kristen Dean", "Leonard Cohen", "Marion Noone", "Quentin Hanlon"]
READERS = ["heart", "joe", "flite:slt", "flite:kal16", "flite:awb", "flite:rms"]
NEGATED = [lambda p: p.replace("agree", "do not agree", 1), lambda p: p.replace(" agree", " don't agree", 1),
           lambda p: p.replace("may create", "may never create", 1), lambda p: p + " I withdraw my consent.",
           lambda p: p.replace("agree", "refuse", 1)]


def _voices():
    """bench/consent.py's synthetic readers (loaded by path: its name would shadow the package)."""
    spec = importlib.util.spec_from_file_location("bench_consent", HERE / "consent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Voices()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--statement")
    args = parser.parse_args()
    import consent.statement as statement

    if args.statement:
        statement.STATEMENT = args.statement
    voices, checker = _voices(), statement.StatementChecker()
    accepted = total = attacks = attacks_accepted = 0
    refusals: list[dict] = []
    started = time.time()
    for i, name in enumerate(NAMES):
        for j, reader in enumerate(READERS):
            if args.quick and (i + j) % 3:
                continue
            nonce = statement.draw_nonce()
            phrase = statement.consent_phrase(name, nonce)
            failures = checker.check(voices.render(reader, phrase), name, nonce).failures()
            total += 1
            accepted += not failures
            if failures:
                refusals.append({"name": name, "voice": reader, "why": failures[0]})
            for negate in NEGATED if (i + j) % 6 == 0 else ():
                attacks += 1
                if not checker.check(voices.render(reader, negate(phrase)), name, nonce).failures():
                    attacks_accepted += 1
                    refusals.append({"name": name, "voice": reader, "why": f"ATTACK ACCEPTED: {negate(phrase)}"})
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "statement": statement.STATEMENT,
              "quick": args.quick, "accepted": accepted, "readings": total, "attacks": attacks,
              "attacks_accepted": attacks_accepted, "seconds": round(time.time() - started), "refusals": refusals}
    (HERE / "results" / "consent_names.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"genuine accepted {accepted}/{total}; negated readings accepted {attacks_accepted}/{attacks}")
    for r in refusals:
        print(f"  {r['name']:<22} {r['voice']:<12} {r['why'][:110]}")


if __name__ == "__main__":
    main()
