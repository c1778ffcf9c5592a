"""The HDF5 feature file: what extraction writes and the engine's per-video loader reads.

Layout of one per-video file `<video>.h5` (version 1):
  features        float32 [T, D]   columns grouped by modality, in `spec.modalities` order
  snippet_start_s float64 [T]      start time of each snippet in the source video (s)
  snippet_end_s   float64 [T]      end time of each snippet (s)
  attrs: format="sdanet-features", version=1, video_name, spec (FeatureSpec JSON),
         extractor, extractor_config (JSON), fingerprint (video fingerprint, "" if unknown),
         duration_s (source video duration, NaN if unknown)
A set file may hold many videos: one group per video with the same layout, or (community
layout) one bare [T, D] dataset per video. Files are replaced atomically.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import UserError
from .units import FeatureSpec

FORMAT_NAME = "sdanet-features"
FORMAT_VERSION = 1


@dataclass
class FeatureFile:
    video_name: str
    features: np.ndarray
    spec: FeatureSpec
    snippet_start_s: np.ndarray | None = None
    snippet_end_s: np.ndarray | None = None
    extractor: str = ""
    extractor_config: dict = field(default_factory=dict)
    fingerprint: str = ""
    duration_s: float = math.nan


def write_feature_file(path: str | Path, ff: FeatureFile) -> None:
    import h5py

    feats = np.asarray(ff.features, dtype=np.float32)
    if feats.ndim != 2 or feats.shape[1] != ff.spec.feature_dim:
        raise ValueError(f"features {feats.shape} do not match spec dim {ff.spec.feature_dim}")
    t = feats.shape[0]
    start = ff.snippet_start_s if ff.snippet_start_s is not None else ff.spec.snippet_to_seconds(np.arange(t))
    end = ff.snippet_end_s if ff.snippet_end_s is not None else \
        start + ff.spec.snippet_frames / ff.spec.fps
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h:
            h.create_dataset("features", data=feats)
            h.create_dataset("snippet_start_s", data=np.asarray(start, dtype=np.float64))
            h.create_dataset("snippet_end_s", data=np.asarray(end, dtype=np.float64))
            h.attrs.update({
                "format": FORMAT_NAME, "version": FORMAT_VERSION, "video_name": ff.video_name,
                "spec": json.dumps(ff.spec.to_dict()), "extractor": ff.extractor,
                "extractor_config": json.dumps(ff.extractor_config), "fingerprint": ff.fingerprint,
                "duration_s": float(ff.duration_s),
            })


def _from_node(node, name: str, path: Path, default_spec: FeatureSpec | None) -> FeatureFile:
    import h5py

    if isinstance(node, h5py.Dataset):
        feats = node[()]
        attrs = dict(node.attrs)
        start = end = None
    else:
        if "features" not in node:
            raise UserError(f"{path}: group '{name}' has no 'features' dataset", path=path)
        feats = node["features"][()]
        attrs = dict(node.attrs)
        start = node["snippet_start_s"][()] if "snippet_start_s" in node else None
        end = node["snippet_end_s"][()] if "snippet_end_s" in node else None
    if feats.ndim != 2:
        raise UserError(f"{path}: features of '{name}' have shape {feats.shape}, expected [T, D]", path=path)
    spec = FeatureSpec.from_dict(json.loads(_s(attrs["spec"]))) if "spec" in attrs else \
        (default_spec or FeatureSpec()).with_dims(_split_dims(feats.shape[1], default_spec))
    return FeatureFile(
        video_name=_s(attrs.get("video_name", name)), features=np.asarray(feats, dtype=np.float32),
        spec=spec, snippet_start_s=start, snippet_end_s=end, extractor=_s(attrs.get("extractor", "")),
        extractor_config=json.loads(_s(attrs.get("extractor_config", "{}")) or "{}"),
        fingerprint=_s(attrs.get("fingerprint", "")), duration_s=float(attrs.get("duration_s", math.nan)))


def read_feature_file(path: str | Path, default_spec: FeatureSpec | None = None) -> FeatureFile:
    """Read a per-video feature file (the layout above, or one bare [T, D] dataset)."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as h:
            if "features" in h:
                return _from_node(h, path.stem, path, default_spec)
            keys = list(h.keys())
            if len(keys) == 1:
                return _from_node(h[keys[0]], keys[0], path, default_spec)
            raise UserError(f"{path}: holds {len(keys)} videos; open it as a feature set", path=path)
    except (OSError, KeyError) as exc:
        raise UserError(f"{path}: not a readable HDF5 feature file ({exc})", path=path) from exc
    except (ValueError, TypeError, RecursionError) as exc:  # attributes (spec JSON) damaged
        raise UserError(f"{path}: damaged feature file attributes ({str(exc)[:200]})", path=path) from exc


def _split_dims(dim: int, default_spec: FeatureSpec | None) -> tuple[int, ...]:
    if default_spec is not None and default_spec.feature_dim == dim:
        return tuple(d for _, d in default_spec.modalities)
    return (dim // 2, dim - dim // 2) if dim % 2 == 0 else (dim,)


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
