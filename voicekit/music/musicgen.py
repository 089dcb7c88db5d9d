"""A song's backing as one instrumental from a text prompt, through transformers' MusicGen, from a
model folder on this machine. The FluidSynth band (voicekit.music.synth) stays the default: MusicGen's
weights are not packaged (`voicekit models download musicgen:small --accept-licence` fetches them,
the one command that touches the network), it follows the prompt's tempo and key only loosely, and
on a CPU it renders slower than real time.

Backing names: "band" (FluidSynth), "musicgen:small" / "musicgen:medium" (downloaded into the data
folder's models/), or "musicgen:/path/to/folder" (a folder with config.json, the weights and a
tokenizer; the Python API and CLI only, never an HTTP caller).
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from voicekit.errors import EngineUnavailable, SongError

BAND = "band"
PREFIX = "musicgen:"
# name -> (Hugging Face repository, licence of its weights)
DOWNLOADS = {
    "small": ("facebook/musicgen-small", "CC-BY-NC-4.0 (Meta's MusicGen weights: non-commercial use)"),
    "medium": ("facebook/musicgen-medium", "CC-BY-NC-4.0 (Meta's MusicGen weights: non-commercial use)"),
}
WINDOW_S = 30.0  # one generation at most this long (MusicGen was trained on 30 s clips)
CONTINUATION_S = 5.0  # a longer backing continues from the last seconds of the one before
GUIDANCE = 3.0  # classifier-free guidance towards the prompt, as MusicGen's authors use it
# Sampling and the network's own randomness draw from torch's global generator: one generation
# at a time in a process, seeded, so a seed gives the same backing.
_GENERATING = threading.Lock()


@dataclass(frozen=True)
class Backing:
    """What plays under the vocal: kind "band" (folder None) or "musicgen" (the model folder)."""

    kind: str
    folder: Path | None = None

    @property
    def name(self) -> str:
        return BAND if self.folder is None else f"{PREFIX}{self.folder.name}"


def backing_named(name: str, models_dir: Path, paths_allowed: bool = True) -> Backing:
    """Resolve a backing name (see the module's docstring); raises SongError for an unknown name
    or a model that is not there, naming the download command."""
    if name == BAND:
        return Backing(BAND)
    if not name.startswith(PREFIX) or not name[len(PREFIX):]:
        raise SongError(f"backing {name!r}: use 'band' or 'musicgen:' and a downloaded model "
                        f"({', '.join(DOWNLOADS)}) or a model folder")
    model = name[len(PREFIX):]
    if model in DOWNLOADS:
        folder = models_dir / f"musicgen-{model}"
        if not (folder / "config.json").is_file():
            raise SongError(f"the MusicGen model {model!r} has not been downloaded to this installation; "
                            f"fetch it with `voicekit models download musicgen:{model} --accept-licence`")
        return Backing("musicgen", folder)
    if not paths_allowed:
        raise SongError(f"backing {name!r}: use 'band' or one of {', '.join(PREFIX + m for m in DOWNLOADS)}")
    folder = Path(model).expanduser()
    if not (folder / "config.json").is_file():
        raise SongError(f"{folder} is not a MusicGen model folder (no config.json)")
    return Backing("musicgen", folder.resolve())


def prompt_for(style) -> str:
    """The text MusicGen is asked for: the style's feel, tempo, key and instruments, no vocals."""
    feel = {"ballad": "a gentle piano ballad", "pop": "an upbeat pop track", "folk": "an acoustic folk waltz",
            "lofi": "a mellow lo-fi hip hop beat"}.get(style.name, f"a {style.name} track")
    return (f"{feel}, instrumental backing with no vocals, {round(style.tempo)} bpm, "
            f"{style.beats_per_bar}/4 time, in {style.key} {style.mode}")


class MusicGenBand:
    """One loaded MusicGen model (loaded on first use; kept per folder, see loaded())."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._model, self._tokenizer = _load(folder)
        config = self._model.config.audio_encoder
        self.sample_rate = int(config.sampling_rate)
        self.frame_rate = float(config.frame_rate)
        decoder = self._model.config.decoder
        # tokens one window may take: the decoder's positions, less the codebooks' delay pattern
        self._max_tokens = int(decoder.max_position_embeddings) - int(decoder.num_codebooks) - 1

    @property
    def weights_sha256(self) -> str:
        return _weights_sha256(self.folder)

    def render(self, prompt: str, seconds: float, sample_rate: int, seed: int) -> np.ndarray:
        """`seconds` of stereo float32 at sample_rate (the model's mono in both channels)."""
        import torch

        from voicekit.audio import resample

        window_s = min(WINDOW_S, self._max_tokens / self.frame_rate)
        tail_s = min(CONTINUATION_S, window_s / 3)
        inputs = self._tokenizer([prompt], return_tensors="pt", padding=True)
        pieces: list[np.ndarray] = []
        have = 0
        need = int(np.ceil(seconds * self.sample_rate))
        with _GENERATING, torch.inference_mode():
            torch.manual_seed(seed)
            while have < need:
                tail = pieces[-1][-int(tail_s * self.sample_rate):] if pieces else None
                new_s = min(window_s - (tail_s if tail is not None else 0.0), (need - have) / self.sample_rate + 0.1)
                extra = {} if tail is None else {"input_values": torch.from_numpy(tail.copy())[None, None]}
                out = self._model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                           do_sample=True, guidance_scale=GUIDANCE,
                                           max_new_tokens=int(np.ceil(new_s * self.frame_rate)), **extra)
                audio = out[0, 0].float().numpy()
                audio = audio if tail is None else audio[len(tail):]  # the output repeats its prompt
                if audio.size == 0:
                    raise EngineUnavailable(f"the MusicGen model in {self.folder} generated no audio")
                pieces.append(audio)
                have += audio.size
        mono = resample(np.concatenate(pieces)[:need].astype(np.float32), self.sample_rate, sample_rate)
        mono = np.pad(mono, (0, max(0, round(seconds * sample_rate) - mono.size)))[:round(seconds * sample_rate)]
        return np.repeat(mono[:, None], 2, axis=1)


@lru_cache(maxsize=2)
def loaded(folder: Path) -> MusicGenBand:
    """The model in `folder`, loaded once per process (a few seconds for musicgen-small)."""
    return MusicGenBand(folder)


def _load(folder: Path):
    try:
        from transformers import AutoTokenizer, MusicgenForConditionalGeneration
        from transformers.utils import logging as hf_logging
    except ImportError as e:
        raise EngineUnavailable(f"MusicGen needs transformers: {e}") from e
    hf_logging.set_verbosity_error()  # its config notes and progress bars are not the user's business
    hf_logging.disable_progress_bar()
    try:
        model = MusicgenForConditionalGeneration.from_pretrained(folder, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise EngineUnavailable(f"{folder} holds no loadable MusicGen model: {str(e).splitlines()[0]}") from e
    return model.eval(), tokenizer


@lru_cache(maxsize=4)
def _weights_sha256(folder: Path) -> str:
    """SHA-256 over the folder's weight files (by name, in order): which model played, for the ledger."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def download(name: str, models_dir: Path, accept_licence: bool = False, progress: bool = False) -> tuple[Path, str]:
    """Fetch musicgen:NAME into models_dir/musicgen-NAME (written beside, then moved into place);
    returns the folder and its licence. The weights are non-commercial, so accept_licence is needed."""
    model = name[len(PREFIX):]
    if model not in DOWNLOADS:
        raise SongError(f"no MusicGen model {model!r} to download; "
                        f"use one of {', '.join(PREFIX + m for m in DOWNLOADS)}")
    repository, licence = DOWNLOADS[model]
    if not accept_licence:
        raise SongError(f"musicgen:{model} is under {licence}; pass --accept-licence to agree to it")
    import shutil
    import tempfile

    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import disable_progress_bars

    if not progress:
        disable_progress_bars()
    target = models_dir / f"musicgen-{model}"
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".download-") as staging:
        try:
            snapshot_download(repository, local_dir=staging,
                              allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"])
        except Exception as e:  # network, HTTP and disk errors alike: say which model failed
            raise EngineUnavailable(f"downloading musicgen:{model} failed: {str(e).splitlines()[0]}") from e
        Path(staging, "LICENCE-AGREED.txt").write_text(
            f"{repository}: {licence}. Agreed through voicekit models download --accept-licence.\n")
        shutil.rmtree(Path(staging, ".cache"), ignore_errors=True)
        previous = Path(staging).with_name(Path(staging).name + "-previous")
        if target.exists():  # set aside, not deleted, until the new folder is in place
            target.rename(previous)
        Path(staging).rename(target)
        Path(staging).mkdir()  # for TemporaryDirectory's own clean-up
        shutil.rmtree(previous, ignore_errors=True)
    return target, licence
