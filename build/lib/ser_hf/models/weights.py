"""Weight files of the published baselines: where they are looked for, how they are read, and their fingerprint.

Nothing here downloads or falls back: a missing file raises :class:`MissingWeightsError`, whose
message gives the URL, a command that fetches it, and the command that converts it to the
``save_pretrained`` format. ``.pth`` files are read with ``torch.load(weights_only=True)``; NumPy
arrays inside one are allowed only through the handful of NumPy reconstruction globals listed in
:data:`NUMPY_ARRAY_GLOBALS` (never an arbitrary unpickle).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import xxhash


class MissingWeightsError(FileNotFoundError):
    """A published weight file is not where it was looked for; the message says how to obtain it."""


def cache_root() -> Path:
    """``$SER_HF_CACHE`` or ``~/.cache/ser_hf``: ``ser_hf.data.prepare.default_cache_dir``'s rule.

    Not imported from there: ``ser_hf.data.prepare`` imported before ``ser_hf.data.corpora`` is a circular import.
    """
    return Path(os.environ.get("SER_HF_CACHE", Path.home() / ".cache" / "ser_hf"))


def weights_dir() -> Path:
    """``$SER_HF_CACHE/weights`` (default ``~/.cache/ser_hf/weights``): where default weight files are looked for."""
    return cache_root() / "weights"


def missing_weights_message(what: str, looked_at: Path, url: str, convert: str) -> str:
    return (
        f"{what}: no weight file at {looked_at}.\n"
        f"Download the published weights ({url}):\n"
        f"    mkdir -p {looked_at.parent} && curl -L -o {looked_at} {url}\n"
        f"then pass that path, or convert it once to the save_pretrained format and pass the folder:\n"
        f"    {convert}\n"
        f"For tests and dry runs without the weights, ask for random weights explicitly (random_weights=True)."
    )


def require_file(path: str | Path, what: str, url: str, convert: str) -> Path:
    """``path`` if it exists, else :class:`MissingWeightsError` with the download and convert commands."""
    path = Path(path).expanduser()
    if not path.exists():
        raise MissingWeightsError(missing_weights_message(what, path, url, convert))
    return path


def is_pretrained_dir(path: str | Path) -> bool:
    """A ``save_pretrained`` folder (has ``config.json``)."""
    return Path(path).is_dir() and (Path(path) / "config.json").is_file()


# What pickled NumPy arrays need: the array reconstructor, the array and dtype classes, and
# the scalar-dtype classes NumPy 2 pickles (numpy.dtypes.Float32DType, ...).
NUMPY_ARRAY_GLOBALS = ("numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
                       "numpy.ndarray", "numpy.dtype")


def _numpy_global(name: str):
    import importlib

    module_name, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def safe_torch_load(path: str | Path) -> dict:
    """A ``.pth`` state dict, read without running pickled code.

    Plain tensors load with ``weights_only=True``. A file holding NumPy arrays (as the VGGish PCA
    parameters may) also loads when every global it needs is a NumPy array/dtype class; any other
    global is refused with its name.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as first_error:  # noqa: BLE001 - re-raised below with the reason
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        refused = [g for g in unsafe if g not in NUMPY_ARRAY_GLOBALS and not g.startswith("numpy.dtypes.")]
        if refused or not unsafe:
            raise ValueError(f"{path}: not a plain state dict; refusing to unpickle {refused or first_error}") \
                from first_error
        # The dtype classes of numeric arrays show up only while unpickling, so they are listed here.
        allowed = [_numpy_global(g) for g in unsafe] + [
            getattr(np.dtypes, f"{kind}DType") for kind in ("Bool", "Float16", "Float32", "Float64", "Int8", "Int16",
                                                           "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64")]
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)


def as_tensor(value) -> torch.Tensor:
    return value.detach().cpu() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))


def weights_fingerprint(module: torch.nn.Module) -> str:
    """xxh3-128 of every parameter and buffer (names, shapes, dtypes, bytes): keys the embedding cache.

    Random-weight models get a new fingerprint per seed, so their embeddings never mix with real ones.
    """
    digest = xxhash.xxh3_128()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(json.dumps([name, list(tensor.shape), str(tensor.dtype)]).encode())
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.view(torch.int16)
        digest.update(np.ascontiguousarray(tensor.numpy()))
    return digest.hexdigest()
