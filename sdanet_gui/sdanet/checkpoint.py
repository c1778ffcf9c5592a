"""SDANet checkpoints: weights plus everything needed to trust and reuse them.

Why it exists: a checkpoint without its class list, feature spec and config silently produces
garbage on other data. Every checkpoint therefore carries (as one JSON string, so that
`torch.load(weights_only=True)` can read it without unpickling anything):
  classes, spec (FeatureSpec dict), config (full SDANetConfig dict), code_version,
  data_fingerprint (hash of the training videos' names, shapes and labels), metrics (training
  and validation figures), selection ("val", "test" = the family's best-on-test protocol,
  "last"), step, parent (the checkpoint it was fine-tuned from, or null), created (UTC).

File layout (torch.save of a dict): {"format": "sdanet-checkpoint", "version": 1,
"state_dict": {name: tensor}, "meta_json": str}. Written atomically (temp file + rename), so an
interrupted save leaves the old file intact.

Class growth (`grow_classes`): a checkpoint learns classes it was not trained on by getting
rows in its class-indexed tensors. Which tensors those are is found from shapes alone, never
from module names (the network's wiring may change): the caller passes the shapes a network for
the new class count has (`reference_shapes`), and every tensor whose shape differs exactly in
its first dimension, by the number of new classes, from C (class rows) or C + 1 (class rows
then the background row) is grown; any other difference is refused. Old rows are kept as
they are, the background row stays last.

This module never builds a model (see `predict.load_model`) and never unpickles: loading goes
through `torch.load(weights_only=True)` only.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import __version__
from ..atomic import atomic_path
from ..data.units import FeatureSpec
from ..errors import UserError

FORMAT_NAME = "sdanet-checkpoint"
FORMAT_VERSION = 1


@dataclass
class CheckpointMeta:
    classes: list[str]
    spec: dict
    config: dict
    code_version: str = __version__
    data_fingerprint: str = ""
    metrics: dict = field(default_factory=dict)
    selection: str = "val"
    step: int = 0
    parent: dict | None = None
    created: str = ""

    @property
    def feature_spec(self) -> FeatureSpec:
        return FeatureSpec.from_dict(self.spec)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> "CheckpointMeta":
        d = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def data_fingerprint(names: Sequence[str], shapes: Sequence[tuple[int, ...]], labels: np.ndarray) -> str:
    """sha256 over the training videos' names, feature shapes and multi-hot labels (order-free)."""
    h = hashlib.sha256()
    rows = sorted(zip(names, shapes, np.asarray(labels).astype(np.uint8).tolist()))
    for name, shape, lab in rows:
        h.update(f"{name}|{tuple(int(x) for x in shape)}|{''.join(map(str, lab))}\n".encode())
    return h.hexdigest()[:32]


def save_checkpoint(path: str | Path, state_dict: dict, meta: CheckpointMeta) -> None:
    """Write weights + metadata atomically; tensors are copied to CPU first."""
    import torch

    if not meta.created:
        meta.created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    payload = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "state_dict": {k: v.detach().to("cpu").clone() for k, v in state_dict.items()},
        "meta_json": meta.to_json(),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path) -> tuple[dict, CheckpointMeta]:
    """Read (state_dict, meta) with `weights_only=True`; anything else is a UserError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found", path=path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or needs unpickling: never trust it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable SDANet checkpoint ({first[:200]})", path=path) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise UserError(f"{path}: not an SDANet checkpoint (no '{FORMAT_NAME}' marker)", path=path)
    if int(payload.get("version", 0)) > FORMAT_VERSION:
        raise UserError(f"{path}: checkpoint format version {payload.get('version')} is newer than "
                        f"this program reads ({FORMAT_VERSION}); update sdanet-gui", path=path)
    try:
        meta = CheckpointMeta.from_json(payload["meta_json"])
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise UserError(f"{path}: checkpoint metadata is damaged ({str(exc)[:200]})", path=path) from exc
    _check_meta(meta, path)
    if not isinstance(payload.get("state_dict"), dict):
        raise UserError(f"{path}: checkpoint holds no weights (state_dict)", path=path)
    return payload["state_dict"], meta


def _check_meta(meta: CheckpointMeta, path: Path) -> None:
    """The metadata must describe something buildable: a feature spec, a config, a class list.
    Checked here, once, so a forged or damaged checkpoint is one sentence naming the file, not
    an exception wherever the spec or config is first used."""
    from .config import SDANetConfig

    if not isinstance(meta.classes, list) or not meta.classes or \
            not all(isinstance(c, str) for c in meta.classes):
        raise UserError(f"{path}: checkpoint metadata is damaged (classes must be a non-empty list "
                        f"of names)", path=path)
    try:
        meta.feature_spec
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{path}: checkpoint metadata is damaged (feature spec: {str(exc)[:200]})",
                        path=path) from exc
    if not isinstance(meta.config, dict):
        raise UserError(f"{path}: checkpoint metadata is damaged (config is not an object)", path=path)
    try:
        SDANetConfig.from_checkpoint(meta.config, source=f"{path} (config)")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{path}: checkpoint metadata is damaged (config: {str(exc)[:200]})",
                        path=path) from exc


def load_weights(model, state_dict: dict, path: str | Path) -> None:
    """`model.load_state_dict(state_dict)`; weights that do not fit the network are a UserError
    naming the checkpoint (every place that loads a checkpoint's weights goes through here)."""
    try:
        model.load_state_dict(state_dict)
    except (RuntimeError, TypeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: checkpoint weights do not fit the network its config describes "
                        f"({first[:200]})", path=path) from exc


def check_compatible(meta: CheckpointMeta, classes: Sequence[str], spec: FeatureSpec,
                     path: str | Path | None = None, data: str = "the data") -> None:
    """Refuse a checkpoint whose class list or feature dimensions differ from the data's."""
    where = f"{path}: " if path else ""
    ck_spec = meta.feature_spec
    if [d for _, d in ck_spec.modalities] != [d for _, d in spec.modalities]:
        raise UserError(f"{where}checkpoint expects features of {_dims(ck_spec)}, but {data} has "
                        f"{_dims(spec)}", path=path)
    if list(meta.classes) != list(classes):
        missing = [c for c in classes if c not in meta.classes]
        extra = [c for c in meta.classes if c not in classes]
        if not missing and not extra:
            detail = "the same classes in another order"
        else:
            detail = "; ".join(filter(None, [
                f"data classes not in checkpoint: {_short(missing)}" if missing else "",
                f"checkpoint classes not in data: {_short(extra)}" if extra else ""]))
        raise UserError(f"{where}checkpoint was trained on {len(meta.classes)} classes, {data} has "
                        f"{len(classes)} ({detail})", path=path)


def _dims(spec: FeatureSpec) -> str:
    return f"{spec.feature_dim} dims (" + " + ".join(f"{n} {d}" for n, d in spec.modalities) + ")"


def _short(names: Sequence[str], n: int = 4) -> str:
    s = ", ".join(names[:n])
    return s + (f", ... ({len(names)} in all)" if len(names) > n else "")


def state_hash(state_dict: dict) -> str:
    """sha256 of all tensors' bytes in name order: equal weights <=> equal hash."""
    import torch

    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().to("cpu").contiguous()
        h.update(k.encode())
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


NEW_ROWS = ("mean", "silent")
SILENT_BIAS = -1.0e4   # a logit that never wins a softmax, and survives fp16 autocast


def grow_classes(state: dict, classes: Sequence[str], new_classes: Sequence[str],
                 reference_shapes: dict, *, new_rows: str = "mean", seed: int = 0) -> dict:
    """`state` (a network for `classes`) made a network for `classes + new_classes`.

    reference_shapes: {name: shape} of a network for the grown class list (same config/spec).
    new_rows "mean": each new class row starts as the mean of the old class rows (weights and
      biases) plus a little seeded noise (1 % of the rows' spread, so several new classes do not
      start identical): a generic "some action" detector the training then specialises;
    new_rows "silent": zero weights and a bias of SILENT_BIAS, so the grown network scores every
      old class exactly as before and never predicts a new one (the "before" figure of a
      fine-tuning run that adds classes: the base model cannot find them).
    Returns a new state dict (the input is not changed); UserError when a tensor differs in
    another way than class rows."""
    import torch

    if new_rows not in NEW_ROWS:
        raise ValueError(f"new_rows must be one of {NEW_ROWS}, got {new_rows!r}")
    c, k = len(classes), len(new_classes)
    clash = sorted(set(classes) & set(new_classes))
    if clash:
        raise ValueError(f"new classes already in the class list: {clash[:3]}")
    if set(state) != set(reference_shapes):
        missing = sorted(set(reference_shapes) ^ set(state))
        raise UserError(f"the checkpoint's tensors do not fit the network ({', '.join(missing[:3])})")
    out = {}
    for name, tensor in state.items():
        want = tuple(reference_shapes[name])
        have = tuple(tensor.shape)
        if have == want:
            out[name] = tensor.clone()
            continue
        if k == 0 or len(have) != len(want) or have[1:] != want[1:] or want[0] - have[0] != k \
                or have[0] not in (c, c + 1):
            raise UserError(f"cannot grow the checkpoint from {c} to {c + k} classes: tensor "
                            f"{name} has shape {list(have)}, the network needs {list(want)}")
        rows = tensor[:c].float()
        if new_rows == "silent":
            grown = torch.zeros((k,) + have[1:], dtype=torch.float32)
            if len(have) == 1:   # a bias: the new classes' logits stay far below every other
                grown.fill_(SILENT_BIAS)
        else:
            gen = torch.Generator().manual_seed(int(seed))
            spread = rows.std(dim=0, unbiased=False) if c > 1 else rows.abs().mean(dim=0)
            noise = torch.randn((k,) + have[1:], generator=gen) * (0.01 * spread)
            grown = rows.mean(dim=0, keepdim=True).expand((k,) + have[1:]) + noise
        grown = grown.to(tensor.dtype)
        out[name] = torch.cat([tensor[:c], grown, tensor[c:]], dim=0)   # background row stays last
    return out
