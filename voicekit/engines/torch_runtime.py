"""Make the torch audio stack loadable on a CPU-only machine, before anything imports TTS or torchcodec.

PyPI's torchcodec is built against CUDA torch and links NVIDIA NPP (libnppicc), which the
`cuda-toolkit[npp]` wheel installs but not on the loader's path. Loading NPP once, globally, lets
torchcodec (and so torchaudio.load and coqui-tts) work with or without a GPU.
"""
from __future__ import annotations

import ctypes
from functools import lru_cache
from pathlib import Path

_NPP_LIBRARIES = ("libnppc.so.13", "libnppicc.so.13")


@lru_cache(maxsize=1)
def prepare() -> None:
    """Idempotent; a missing NPP wheel is left for torchcodec to report in its own words."""
    import torch

    lib_dir = Path(torch.__file__).resolve().parent.parent / "nvidia" / "cu13" / "lib"
    for name in _NPP_LIBRARIES:
        path = lib_dir / name
        if path.exists():
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
