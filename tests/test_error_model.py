"""One error model: every project exception derives from VoicekitError and says, once, its CLI exit
code and its HTTP status and problem type; the CLI and the API use nothing else."""
from __future__ import annotations

import importlib
import pkgutil

import api
import consent
import detection
import voicekit
from consent.errors import EXIT_BAD_INPUT, EXIT_CONSENT, VoicekitError


def _all_modules():
    for package in (consent, detection, voicekit, api):
        yield package
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            # __main__ runs the CLI; migrations.env is Alembic's script, run only inside a migration
            if not info.name.endswith(("__main__", "migrations.env")):
                yield importlib.import_module(info.name)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_exception_class_of_the_project_is_under_the_one_root():
    stray = []
    for module in _all_modules():
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module.__name__
                    and not issubclass(value, VoicekitError) and not value.__name__.startswith("_")):
                stray.append(f"{module.__name__}.{value.__name__}")
    assert stray == []


def test_each_error_says_its_exit_code_status_and_problem_type():
    list(_all_modules())  # every class defined
    classes = list(dict.fromkeys([VoicekitError, *_subclasses(VoicekitError)]))
    assert len(classes) > 30
    for cls in classes:
        assert cls.exit_code in range(1, 7), cls
        assert 400 <= cls.http_status <= 599, cls
        assert cls.problem and cls.problem == cls.problem.lower() and " " not in cls.problem, cls
    refusals = {cls.__name__: (cls.exit_code, cls.http_status, cls.problem) for cls in classes}
    assert refusals["UnknownVoice"] == (EXIT_CONSENT, 404, "unknown-voice")
    assert refusals["SsmlError"] == (EXIT_BAD_INPUT, 400, "invalid-ssml")
    assert refusals["AudioTooLong"][1] == 413 and refusals["TooLong"][1] == 413
    assert refusals["LedgerBroken"] == (5, 503, "ledger-broken")
    assert refusals["KeyStoreError"][0] == 1 and refusals["GateRefused"][:2] == (4, 422)
    # A class that is a refusal of its own has a type of its own (the API's generic ones aside).
    own = [cls for cls in classes if "problem" in vars(cls)]
    assert len({cls.problem for cls in own}) == len(own)
