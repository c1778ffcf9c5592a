"""Fixtures for the fine-tuning tests: tiny real checkpoints and real projects built from the
synthetic data set (per-video HDF5 feature files, annotations imported through the exchange
layer, videos marked reviewed with the real edit command)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sdanet_gui.data.synthetic import make_synthetic, write_synthetic
from sdanet_gui.project.commands import SetReviewState
from sdanet_gui.project.exchange import import_annotations
from sdanet_gui.project.manifest import freeze_manifest
from sdanet_gui.project.store import Project
from sdanet_gui.sdanet.config import SDANetConfig, apply_overrides
from sdanet_gui.sdanet.trainer import train

torch.set_num_threads(1)

TINY = ["model.hidden_dim=16", "model.sda_heads=2", "model.attention_hidden=8",
        "model.sda_ffn_dim=16", "model.pfm_proj_dim=8", "train.batch_size=4",
        "train.same_class_pairs=1", "train.max_seqlen=40", "train.lr=1e-3"]
SYN = dict(seed=0, num_classes=3, dim=8, min_snippets=20, max_snippets=40)


def tiny_base(path: Path, num_classes: int = 3, dim: int = 8) -> Path:
    """A real SDANet checkpoint trained 2 steps on domain-0 synthetic videos."""
    fs = make_synthetic(**{**SYN, "num_classes": num_classes, "dim": dim}, train_videos=8, test_videos=0)
    cfg = apply_overrides(SDANetConfig(), TINY)
    train(cfg, fs, out=path, iterations=2, seed=0, select_on="last", final_test=False)
    return path


def shifted_data(folder: Path, train_videos: int = 6, test_videos: int = 2) -> Path:
    """Domain-shifted synthetic videos: features/<video>.h5 (feature_files layout) +
    annotations.json."""
    return write_synthetic(folder, layout="h5", domain=1.0, train_videos=train_videos,
                           test_videos=test_videos, **SYN)


def project_from_data(folder: Path, data: Path, subset: str = "train", *, with_features=True) -> Project:
    """A real project holding every video of `data` (annotations imported), the videos of
    `subset` marked reviewed ('done') and, with_features, pointing at their feature files."""
    project = Project.create(folder, author="tester")
    import_annotations(project, data / "annotations.json")
    for rec in project.videos():
        if rec.subset != subset:
            continue
        SetReviewState(rec.id, "done").apply(project)
        if with_features:
            project.set_video_fields(rec.id, feature_ref=str(data / "features" / f"{rec.name}.h5"))
    return project


def freeze(project: Project, path: Path, subset: str = "train") -> Path:
    """The manifest of `subset`'s videos; the imported ground truth is trusted (curated)."""
    ids = [r.id for r in project.videos() if r.subset == subset]
    return freeze_manifest(project, ids, trust_imported=True).write(path)


@pytest.fixture(scope="session")
def ft_world(tmp_path_factory):
    """Shared by the whole folder (read-only: tests copy the project before changing it): a
    base checkpoint, shifted data, a project over it and its frozen manifest."""
    root = tmp_path_factory.mktemp("ftworld")
    base = tiny_base(root / "base.pt")
    data = shifted_data(root / "data")
    project = project_from_data(root / "proj", data)
    manifest = freeze(project, root / "manifest.json")
    project.close()
    return {"root": root, "base": base, "data": data, "project": root / "proj", "manifest": manifest}


@pytest.fixture(scope="session")
def ft():
    """The helpers above for test modules (tests do not import each other or conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(tiny_base=tiny_base, shifted_data=shifted_data,
                           project_from_data=project_from_data, freeze=freeze, SYN=dict(SYN))
