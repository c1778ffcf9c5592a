"""On-disk cache of SDANet's per-video scores, per model version, inside the project folder.

Why: running the network is the slow part of showing a video's score curves. Once a model
version has scored a video, its raw output (cas [T, C+1] logits, attention [T]) is kept here so
that reopening the project, rolling back to an earlier version or re-running the
post-processing never needs the network (or torch) again.

Layout: `<project>/cache/scores/v<model version id>/<key>.npz`, one file per (model version,
feature file), where key = a hash of the feature file's resolved path. Each file holds
  cas        float32 [T, C+1]   class activation logits, last column background
  attention  float32 [T]        fused foreground attention in [0, 1]
  modality_attention  float32 [T, M]  per-modality attention (spec.modalities order); optional
  meta       0-d unicode        JSON: format, version, video name, feature spec, classes, the
                                checkpoint's post-processing (or null) and the feature file's
                                identity (resolved path, size, mtime in ns)
A lookup whose feature file no longer has that identity (re-extracted, replaced, touched) is a
miss, so stale scores are never shown for new features. Files are written atomically
(`atomic.atomic_path`) and read with allow_pickle=False; an unreadable or foreign file is a miss
(logged), never an error for the user.

This module never imports Qt or torch, never runs the model and never writes the project database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..data.units import FeatureSpec

log = logging.getLogger(__name__)

FORMAT_NAME = "sdanet-scores"
FORMAT_VERSION = 1
SUBFOLDER = "scores"


@dataclass(frozen=True)
class FeatureIdentity:
    """What makes a feature file 'the same file': resolved path, size and modification time."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike) -> "FeatureIdentity | None":
        """The identity of an existing file; None when it cannot be read (missing, no access)."""
        p = Path(path)
        try:
            st = p.stat()
            return cls(str(p.resolve()), int(st.st_size), int(st.st_mtime_ns))
        except OSError:
            return None

    def to_dict(self) -> dict:
        return {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns}


@dataclass
class CachedScores:
    """One video's scores under one model version.

    cas: float32 [T, C+1] logits (last column background); attention: float32 [T] in [0, 1];
    spec: the features' FeatureSpec (the snippet grid of T); classes: the C class names;
    post: the checkpoint's post-processing dict (sdanet.localization.PostProcessing) or None;
    modality_attention: float32 [T, M] in spec.modalities order, or None.
    """

    video_name: str
    cas: np.ndarray
    attention: np.ndarray
    spec: FeatureSpec
    classes: list[str]
    post: dict | None = None
    modality_attention: np.ndarray | None = None


class ScoreCache:
    """The score cache of one project (folder = `<project>/cache/scores`)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    @classmethod
    def for_project(cls, project) -> "ScoreCache":
        return cls(Path(project.cache_dir) / SUBFOLDER)

    def path_for(self, model_version_id: int, feature_path: str | os.PathLike) -> Path:
        """Where the scores of `feature_path` under model version `model_version_id` live."""
        key = hashlib.sha256(str(Path(feature_path).resolve()).encode("utf-8")).hexdigest()[:24]
        return self.folder / f"v{int(model_version_id)}" / f"{key}.npz"

    def put(self, model_version_id: int, feature_path: str | os.PathLike, scores: CachedScores) -> Path | None:
        """Store `scores` (computed from `feature_path`); returns the file, or None when the
        feature file is gone (nothing to key the entry on). Disk full / read-only: UserError
        from `atomic`, an existing entry untouched."""
        ident = FeatureIdentity.of(feature_path)
        if ident is None:
            return None
        cas = np.ascontiguousarray(scores.cas, dtype=np.float32)
        att = np.ascontiguousarray(scores.attention, dtype=np.float32).reshape(-1)
        if cas.ndim != 2 or cas.shape[0] != att.shape[0] or cas.shape[1] != len(scores.classes) + 1:
            raise ValueError(f"scores of {scores.video_name!r}: cas {cas.shape} / attention {att.shape} "
                             f"do not fit {len(scores.classes)} classes")
        arrays = {"cas": cas, "attention": att}
        if scores.modality_attention is not None:
            mod = np.ascontiguousarray(scores.modality_attention, dtype=np.float32)
            if mod.ndim == 2 and mod.shape[0] == att.shape[0]:
                arrays["modality_attention"] = mod
        meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "video_name": scores.video_name,
                "spec": scores.spec.to_dict(), "classes": list(scores.classes),
                "post": scores.post, "features": ident.to_dict(),
                "model_version_id": int(model_version_id)}
        target = self.path_for(model_version_id, feature_path)
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:  # a file object: np.savez would append '.npz' to a path
                np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)
        return target

    def get(self, model_version_id: int, feature_path: str | os.PathLike) -> CachedScores | None:
        """The cached scores, or None: no entry, the feature file changed or is gone, or the
        entry is unreadable."""
        target = self.path_for(model_version_id, feature_path)
        if not target.is_file():
            return None
        ident = FeatureIdentity.of(feature_path)
        if ident is None:
            return None
        try:
            with np.load(target, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"][()]))
                if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
                    raise ValueError(f"not a version-{FORMAT_VERSION} score cache file")
                if meta.get("features") != ident.to_dict():
                    return None  # the features changed since: stale
                cas = np.asarray(z["cas"], dtype=np.float32)
                att = np.asarray(z["attention"], dtype=np.float32)
                mod = (np.asarray(z["modality_attention"], dtype=np.float32)
                       if "modality_attention" in z.files else None)
            classes = [str(c) for c in meta["classes"]]
            if cas.ndim != 2 or cas.shape != (att.shape[0], len(classes) + 1):
                raise ValueError(f"cas {cas.shape} / attention {att.shape} do not fit {len(classes)} classes")
            return CachedScores(str(meta["video_name"]), cas, att, FeatureSpec.from_dict(meta["spec"]),
                                classes, meta.get("post"), mod)
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            log.warning("%s: ignoring an unreadable score cache entry (%s)", target, exc)
            return None

    def drop_version(self, model_version_id: int) -> None:
        """Forget every cached score of a model version (e.g. its checkpoint was deleted)."""
        shutil.rmtree(self.folder / f"v{int(model_version_id)}", ignore_errors=True)
