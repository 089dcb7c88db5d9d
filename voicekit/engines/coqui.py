"""`coqui`: a coqui-tts model (VITS, YourTTS, XTTS-v2, Tacotron, ...) loaded from a local folder.

A model folder holds `config.json` and the checkpoint (`model.pth`, `model_file.pth`, `best_model.pth`
or `checkpoint.pth`; XTTS also its `vocab.json` and speaker files, as coqui's downloader leaves them).
Nothing here touches the network: `voicekit models download NAME` (coqui_download.py) is the one
explicit way to fetch coqui's released models.

A folder becomes a voice by registration (`Studio.add_model_voice`), which signs the SHA-256 of its
config and checkpoint; `CoquiModel.open` refuses files that changed since. Models that clone from
audio (XTTS, and VITS models with a speaker encoder such as YourTTS) can also speak an enrolled
profile, conditioned on its sealed reference recordings (`CoquiEngine.cloned`).
"""
from __future__ import annotations

import hashlib
import json
import threading
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from voicekit import audio
from voicekit.engines.base import Capabilities
from voicekit.errors import EngineUnavailable

CHECKPOINT_NAMES = ("model.pth", "model_file.pth", "best_model.pth", "checkpoint.pth")
XTTS_RATE = 22050  # the rate XTTS computes its conditioning from (its loader's default)


@dataclass(frozen=True)
class CoquiModelFiles:
    """What a model folder is: its config, its checkpoint and their combined SHA-256."""

    folder: Path
    config: Path
    checkpoint: Path
    sha256: str

    @classmethod
    def find(cls, folder: Path | str) -> "CoquiModelFiles":
        """Raises EngineUnavailable naming what is missing."""
        folder = Path(folder).expanduser().resolve()
        config = folder / "config.json"
        if not config.is_file():
            raise EngineUnavailable(f"{folder} has no config.json; is it a coqui-tts model folder?")
        checkpoint = next((folder / n for n in CHECKPOINT_NAMES if (folder / n).is_file()), None)
        if checkpoint is None:
            raise EngineUnavailable(f"{folder} has no checkpoint (one of {', '.join(CHECKPOINT_NAMES)})")
        digest = hashlib.sha256()
        for path in (config, checkpoint):
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
        return cls(folder, config, checkpoint, digest.hexdigest())


class CoquiEngine:
    """Engine protocol over one loaded coqui-tts model.

    speaker / language: for multi-speaker or multilingual models, the built-in speaker and the
    language to speak (coqui's names). device: "cpu" or "cuda" (XTTS-v2 wants a GPU).
    """

    name = "coqui"
    capabilities = Capabilities()  # torch and espeak-ng state: one render at a time

    def __init__(self, files: CoquiModelFiles, licence: str, speaker: str | None = None,
                 language: str | None = None, device: str = "cpu", threads: int = 1) -> None:
        self.files = files
        self.licence = licence
        self.speaker = speaker
        self.language = language
        self.device = device
        self.threads = threads
        self._voices: dict[str, CoquiClone] = {}

    @classmethod
    def open(cls, folder: Path | str, expected_sha256: str | None = None, **options: Any) -> "CoquiEngine":
        """The model in `folder`; with expected_sha256 (as registered), refuses changed files."""
        files = CoquiModelFiles.find(folder)
        if expected_sha256 is not None and files.sha256 != expected_sha256:
            raise EngineUnavailable(f"the model files in {files.folder} changed since the voice was registered")
        return cls(files, **options)

    @cached_property
    def _synthesizer(self):
        import torch

        from voicekit.engines import torch_runtime

        torch_runtime.prepare()
        from TTS.utils.synthesizer import Synthesizer

        torch.set_num_threads(self.threads)
        # XTTS loads itself from its folder (vocab, speakers); the others from their checkpoint file.
        checkpoint = self.files.folder if self.family == "xtts" else self.files.checkpoint
        try:
            synthesizer = Synthesizer(tts_checkpoint=checkpoint, tts_config_path=self.files.config,
                                      use_cuda=self.device == "cuda")
        except (OSError, RuntimeError, ValueError, KeyError) as e:
            raise EngineUnavailable(f"coqui-tts could not load the model in {self.files.folder}: {e}") from e
        speakers = self._check_speaker(synthesizer.tts_model)
        if self.speaker is not None or (len(speakers) <= 1 and self.family != "xtts"):  # else: only clones speak
            with seeded("warm-up"):
                synthesizer.tts(WARM_UP, speaker_name=self.speaker, language_name=self.language, split_sentences=False)
        return synthesizer

    def _check_speaker(self, model) -> list[str]:
        """The model's speakers; raises EngineUnavailable when the chosen one is not among them."""
        speakers = model.speaker_manager.speaker_names if model.speaker_manager is not None else []
        if self.speaker is not None and self.speaker not in speakers:
            raise EngineUnavailable(f"the model has no speaker {self.speaker!r} (it has: {', '.join(speakers) or 'none'})")
        return speakers

    @cached_property
    def family(self) -> str:
        """coqui's model name from the config: "xtts", "vits", "tacotron2", ..."""
        return str(json.loads(self.files.config.read_text(encoding="utf-8")).get("model", "")).lower()

    @property
    def _model(self):
        return self._synthesizer.tts_model

    @property
    def sample_rate(self) -> int:
        return int(self._synthesizer.output_sample_rate)

    @property
    def model_version(self) -> str:
        return f"coqui-tts {version('coqui-tts')} {self.family} {self.files.checkpoint.name} sha256:{self.files.sha256[:16]}"

    @property
    def clones_from_audio(self) -> bool:
        """XTTS always; other models when they carry a speaker encoder (YourTTS and its kin)."""
        if self.family == "xtts":
            return True
        manager = self._model.speaker_manager
        return self.family == "vits" and manager is not None and manager.encoder is not None

    def synthesize(self, sentence: str) -> np.ndarray:
        synthesizer = self._synthesizer  # loaded (and warmed up) before this render's seed is set
        with seeded(sentence):
            wav = synthesizer.tts(sentence, speaker_name=self.speaker, language_name=self.language,
                                        split_sentences=False)
        return np.asarray(wav, np.float32)

    def cloned(self, key: str, references: Callable[[], list[tuple[np.ndarray, int]]]) -> "CoquiClone":
        """This model speaking as one person, conditioned once per `key` (a profile id) on the
        (samples, rate) pairs `references()` returns, and kept in memory only."""
        if not self.clones_from_audio:
            raise EngineUnavailable(f"the {self.family} model in {self.files.folder} does not clone from audio")
        if key not in self._voices:
            recordings = references()
            if not recordings:
                raise EngineUnavailable("the profile kept no reference recordings; enroll again with --keep-references")
            clone = CoquiClone(self, self._conditioning(recordings))
            clone.synthesize(WARM_UP)
            self._voices[key] = clone
        return self._voices[key]

    def _conditioning(self, references: list[tuple[np.ndarray, int]]) -> dict[str, Any]:
        import torch

        model = self._model
        if self.family == "xtts":
            longest = int(model.config.max_ref_len * XTTS_RATE)  # as XTTS's own loader trims them
            clips = [torch.from_numpy(audio.resample(s, r, XTTS_RATE)[:longest]).unsqueeze(0).to(model.device)
                     for s, r in references]
            embedding = torch.stack([model.get_speaker_embedding(c, XTTS_RATE) for c in clips]).mean(dim=0)
            latents = model.get_gpt_cond_latents(torch.cat(clips, dim=-1), XTTS_RATE,
                                                 length=model.config.gpt_cond_len,
                                                 chunk_length=model.config.gpt_cond_chunk_len)
            return {"gpt_cond_latent": latents, "speaker_embedding": embedding}
        # A d-vector model: the mean of its own speaker encoder's embeddings, computed the way
        # coqui's SpeakerManager.compute_embedding_from_clip does, from samples rather than files.
        manager = model.speaker_manager
        rate = manager.encoder_ap.sample_rate
        embeddings = []
        with torch.inference_mode():
            for samples, sr in references:
                wav = audio.resample(samples, sr, rate)
                use_spec = manager.encoder_config.model_params.get("use_torch_spec", False)
                features = torch.from_numpy(wav if use_spec else manager.encoder_ap.melspectrogram(wav))
                embeddings.append(manager.encoder.compute_embedding(features.unsqueeze(0).to(model.device)))
        return {"d_vector": torch.stack(embeddings).mean(dim=0)}


class CoquiClone:
    """Engine protocol: a cloning coqui model conditioned on one person's references."""

    name = "coqui"
    capabilities = Capabilities()

    def __init__(self, engine: CoquiEngine, conditioning: dict[str, Any]) -> None:
        self.engine = engine
        self.conditioning = conditioning
        self.licence = engine.licence

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    @property
    def model_version(self) -> str:
        return f"{self.engine.model_version} conditioned on the profile's sealed references"

    def synthesize(self, sentence: str) -> np.ndarray:
        import torch

        model = self.engine._model
        with torch.inference_mode(), seeded(sentence):
            if self.engine.family == "xtts":
                settings = {k: model.config[k] for k in ("temperature", "length_penalty", "repetition_penalty",
                                                           "top_k", "top_p")}
                wav = model.inference(sentence, self.engine.language or "en", self.conditioning["gpt_cond_latent"],
                                      self.conditioning["speaker_embedding"], **settings)["wav"]
            else:
                wav = self._vits(model, sentence)
        wav = wav.detach().cpu().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav)
        return wav.squeeze().astype(np.float32)

    def _vits(self, model, sentence: str):
        import torch

        language_id = None
        if model.language_manager is not None and model.language_manager.num_languages > 1:
            language_id = torch.tensor([model.language_manager.name_to_id[self.engine.language or "en"]],
                                       device=model.device)
        ids = model.tokenizer.text_to_ids(sentence, language=self.engine.language)
        ids = torch.as_tensor(ids, dtype=torch.long, device=model.device).unsqueeze(0)
        outputs = model.inference(ids, aux_input={"x_lengths": torch.tensor(ids.shape[1:2], device=model.device),
                                                  "speaker_ids": None, "d_vectors": self.conditioning["d_vector"],
                                                  "language_ids": language_id})
        return outputs["model_outputs"]


# A model's first inference draws from torch's generator differently from every later one (coqui-tts
# initialises something on first use), so a request's first render would differ from the same
# request later: a model (and each clone) renders this once when it loads, and the render is dropped.
WARM_UP = "Warm up."
# torch's generator is one per process: two threads seeding it at once would each draw the other's
# noise, so a render's seeded block holds this lock (a model render uses every core it is given).
_TORCH_GENERATOR = threading.RLock()  # re-entered when a render's first use loads the model


@contextmanager
def seeded(sentence: str) -> Iterator[None]:
    """torch's generator seeded from the sentence (CRC-32) for one call and restored after it, so
    the same request renders the same audio (VITS and XTTS sample noise and tokens), whichever
    other requests render on other threads meanwhile."""
    import torch

    with _TORCH_GENERATOR, torch.random.fork_rng(devices=[]):
        torch.manual_seed(zlib.crc32(sentence.encode("utf-8")))
        yield
