"""Checkpoints: config + weights + version, written atomically, read with ``weights_only=True``.

Format: a dict ``{"format": "aither-wm/checkpoint", "format_version": 1, "version": int,
"config": <WorldModelConfig as plain dict>, "state_dict": {...}, "meta": {plain values}}``.

Writing goes to a temporary file in the same folder, is fsynced, then renamed over the target, so
a crash mid-write leaves the previous good checkpoint in place. Reading never unpickles arbitrary
objects: a pickle payload, a corrupt file, or a foreign checkpoint is refused with CheckpointError.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from aither_wm.config import WorldModelConfig
from aither_wm.errors import CheckpointError
from aither_wm.models.world_model import WorldModel

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "atomic_write_bytes",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "aither-wm/checkpoint"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the rebuilt model (eval mode), its version and metadata."""

    model: WorldModel
    version: int
    meta: dict[str, Any]
    path: Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via temp file + fsync + rename (+ fsync of the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(
    model: WorldModel, path: str | Path, *, version: int = 1, meta: dict[str, Any] | None = None
) -> Path:
    """Save atomically; ``meta`` must hold plain values (str, int, float, bool, None, lists, dicts)."""
    import io

    p = Path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": _FORMAT_VERSION,
        "version": int(version),
        "config": model.config.model_dump(mode="json"),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": dict(meta or {}),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(p, buf.getvalue())
    return p


def _first_reason(text: str) -> str:
    for line in text.splitlines():
        if "Unsupported global" in line or "GLOBAL" in line:
            return line.strip()[:160]
    return text.strip().splitlines()[-1][:160] if text.strip() else "unknown"


def _upgrade_config(config: Any) -> Any:
    """A stored config dict in today's schema. Configs saved before
    ``PredictorConfig.activation`` existed were trained with GELU, which was then the only
    activation; the field's default is now SiLU, so its absence must mean GELU."""
    predictor = config.get("predictor") if isinstance(config, dict) else None
    if isinstance(predictor, dict) and "activation" not in predictor:
        return {**config, "predictor": {**predictor, "activation": "gelu"}}
    return config


def _check_container(p: Path) -> None:
    """Refuse a file that is not a torch save at all (a zip archive, or a legacy pickle that
    starts with the protocol byte 0x80) with a message naming the file, before torch.load
    answers with its own internals."""
    try:
        with p.open("rb") as f:
            head = f.read(4)
    except OSError as e:
        raise CheckpointError(f"{p}: cannot read checkpoint ({e.strerror or e})") from None
    if head.startswith(b"PK") or head[:1] == b"\x80":
        return
    if head.lstrip()[:1] in (b"{", b"["):
        kind = "it holds JSON"
    elif head.isascii() and head.decode("ascii").isprintable():
        kind = "it holds text"
    else:
        kind = "not a torch save"
    raise CheckpointError(
        f"{p}: not a readable checkpoint ({kind}; a checkpoint is the .pt file that "
        f"`aither-wm train` or `aither-wm demo --out DIR` writes)"
    )


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load with ``torch.load(weights_only=True)``; refuse anything else with CheckpointError."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    _check_container(p)
    try:
        payload = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        if "Unsupported global" in text or "GLOBAL" in text:
            raise CheckpointError(
                f"{p}: refused: the file holds Python objects that weights_only loading does not "
                f"allow (a pickle payload is never executed): {_first_reason(text)}"
            ) from None
        raise CheckpointError(
            f"{p}: not a readable checkpoint (corrupt: {_first_reason(text)})"
        ) from None
    except Exception as e:  # torch raises RuntimeError/EOFError/zipfile errors on corruption
        raise CheckpointError(
            f"{p}: not a readable checkpoint ({type(e).__name__}: {str(e)[:120]})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{p}: not an aither-wm checkpoint (no format {CHECKPOINT_FORMAT!r})")
    if payload.get("format_version") != _FORMAT_VERSION:
        raise CheckpointError(
            f"{p}: checkpoint format_version {payload.get('format_version')!r} is not supported"
        )
    try:
        config = WorldModelConfig.model_validate(_upgrade_config(payload["config"]))
    except (ValidationError, KeyError) as e:
        raise CheckpointError(
            f"{p}: checkpoint config is invalid: {str(e).splitlines()[0]}"
        ) from None
    model = WorldModel(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError) as e:
        raise CheckpointError(
            f"{p}: weights do not match the stored config: {str(e)[:200]}"
        ) from None
    model.eval()
    return Checkpoint(
        model=model,
        version=int(payload.get("version", 0)),
        meta=dict(payload.get("meta", {})),
        path=p,
    )
