"""Fetching coqui-tts's released models: the only code in voicekit that downloads model weights, and
it runs only when the user asks (`voicekit models download NAME`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voicekit.errors import BadInput, EngineUnavailable


@dataclass(frozen=True)
class DownloadedModel:
    name: str
    folder: Path
    licence: str


def catalogue() -> dict[str, dict]:
    """coqui's model list as shipped in the package (no network): 'type/language/dataset/model' -> entry."""
    from TTS.utils.manage import ModelManager

    models = ModelManager().models_dict
    return {f"{kind}/{lang}/{dataset}/{model}": item
            for kind, langs in models.items() for lang, datasets in langs.items()
            for dataset, entries in datasets.items() for model, item in entries.items()
            if kind == "tts_models"}


def download(name: str, models_dir: Path, accept_licence: bool = False, progress: bool = False) -> DownloadedModel:
    """Download `name` (e.g. tts_models/multilingual/multi-dataset/xtts_v2) under `models_dir`.

    Models under a licence that asks for agreement (XTTS-v2: the non-commercial Coqui Public Model
    License) need accept_licence=True, which records the agreement beside the files.
    """
    from TTS.utils.manage import ModelManager

    item = catalogue().get(name)
    if item is None:
        raise BadInput(f"coqui-tts has no text-to-speech model {name!r}; names look like tts_models/en/ljspeech/vits")
    manager = ModelManager(output_prefix=models_dir, progress_bar=progress)
    if item.get("tos_required"):
        if not accept_licence:
            raise BadInput(f"{name} is under {item.get('license', 'a licence')} (non-commercial use unless you hold a "
                           "commercial licence); pass --accept-licence to agree to it")
        target = manager.output_prefix / name.replace("/", "--")
        target.mkdir(parents=True, exist_ok=True)
        (target / "tos_agreed.txt").write_text("Agreed through voicekit models download --accept-licence.\n")
    try:
        checkpoint, _, entry = manager.download_model(name)
    except Exception as e:  # coqui raises requests, OS and runtime errors alike; say which model failed
        raise EngineUnavailable(f"downloading {name} failed: {e}") from e
    folder = checkpoint if checkpoint.is_dir() else checkpoint.parent
    return DownloadedModel(name, folder, str(entry.get("license", "see the model card")))
