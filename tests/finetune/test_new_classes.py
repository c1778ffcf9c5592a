"""The user's own classes: a checkpoint grows the classes it lacks (old rows kept, the background
row last), the labels a review could not give are masked (never negatives), and fine-tuning on
corrections of a new class succeeds with the old class list plus the new classes, in order."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from sdanet_gui.data.structures import FeatureSet, FeatureVideo, Segment, VideoAnnotation
from sdanet_gui.errors import UserError
from sdanet_gui.jobs.finetune_job import FinetuneRequest, run_job
from sdanet_gui.jobs.training_set import build_training_set
from sdanet_gui.project.commands import AddSegment, SetReviewState
from sdanet_gui.project.manifest import freeze_manifest
from sdanet_gui.sdanet.checkpoint import grow_classes, load_checkpoint
from sdanet_gui.sdanet.dataset import UNLABELLED_KEY, TrainingVideos, make_batch
from sdanet_gui.sdanet.finetune import BACKGROUND_UNKNOWN_KEY
from sdanet_gui.sdanet.losses import mil_loss
from sdanet_gui.sdanet.predict import build_model

torch.set_num_threads(1)


def test_growing_keeps_the_old_rows_and_the_background_row_last(ft_world):
    state, meta = load_checkpoint(ft_world["base"])
    c = len(meta.classes)
    reference = {k: tuple(v.shape) for k, v in build_model(meta.config, meta.feature_spec, c + 2).state_dict().items()}
    grown = grow_classes(state, meta.classes, ["new1", "new2"], reference, seed=3)
    changed = [k for k in state if grown[k].shape != state[k].shape]
    assert changed and all(state[k].shape[0] == c + 1 and grown[k].shape[0] == c + 3 for k in changed)
    for k in state:
        if k in changed:
            assert torch.equal(grown[k][:c], state[k][:c])           # old classes as they were
            assert torch.equal(grown[k][-1], state[k][-1])           # background stays last
            new = grown[k][c:c + 2]
            mean = state[k][:c].mean(0)
            assert torch.allclose(new, mean.expand_as(new), atol=0.05 * float(state[k][:c].std()) + 1e-6)
            assert not torch.equal(new[0], new[1])                   # not two identical classes
        else:
            assert torch.equal(grown[k], state[k])
    model = build_model(meta.config, meta.feature_spec, c + 2)
    model.load_state_dict(grown)                                      # a network for C + 2 classes
    with pytest.raises(UserError, match="cannot grow the checkpoint"):
        bad = dict(reference)
        bad[changed[0]] = (c + 2,) + tuple(reference[changed[0]][1:])  # one row short
        grow_classes(state, meta.classes, ["new1", "new2"], bad)


def test_an_unknown_label_is_left_out_of_the_video_loss_not_pushed_down():
    classes = ["a", "b", "c"]
    ann = VideoAnnotation("v", segments=[Segment("a", 0.0, 1.0)], meta={UNLABELLED_KEY: ["c"]})
    other = VideoAnnotation("w", segments=[Segment("b", 0.0, 1.0)])
    videos = [FeatureVideo("v", ann, lambda: np.ones((6, 4), np.float32), 6),
              FeatureVideo("w", other, lambda: np.ones((6, 4), np.float32), 6)]
    from sdanet_gui.data.units import FeatureSpec

    fs = FeatureSet(FeatureSpec(25.0, 16, 16, (("rgb", 2), ("flow", 2))), classes, videos)
    data = TrainingVideos.load(fs, videos)
    assert data.label_known.tolist() == [[True, True, False], [True, True, True]]
    batch = make_batch(data, [0, 1], 10, np.random.default_rng(0))
    assert batch["label_mask"].tolist() == [[True, True, False], [True, True, True]]
    cas = torch.zeros(2, 6, 4, requires_grad=True)
    loss = mil_loss(cas, batch["labels"], batch["mask"], 3.0, 1.0, batch["label_mask"])
    loss.backward()
    grad = cas.grad
    assert grad[0, :, 2].abs().sum() == 0        # class c in video v: unknown, no gradient at all
    assert grad[1, :, 2].abs().sum() > 0         # in video w it is a known negative
    assert grad[0, :, 1].abs().sum() > 0         # class b in video v: a known negative


def _project_with_a_new_class(ft_world, ft, folder):
    """The shared synthetic project, where the user then created class 'mine' and drew segments
    of it in three videos (marked reviewed again afterwards); the other reviewed videos were
    reviewed before 'mine' existed."""
    project = ft.project_from_data(folder, ft_world["data"])
    train = [r for r in project.videos() if r.subset == "train"]
    project.add_classes(["mine"])
    for rec in train[:3]:
        seg = project.segments(rec.id)[0]
        gap_start = seg.end_frame + 200
        AddSegment(rec.id, "mine", gap_start, gap_start + 700).apply(project)
        SetReviewState(rec.id, "done").apply(project)
    return project, train


def test_a_class_created_after_a_review_is_unknown_to_that_video(ft_world, ft, tmp_path):
    project, train = _project_with_a_new_class(ft_world, ft, tmp_path / "p")
    try:
        m = freeze_manifest(project, [r.id for r in train], trust_imported=True)
    finally:
        project.close()
    by_name = {v.name: v for v in m.videos}
    fresh, old = by_name[train[0].name], by_name[train[5].name]
    assert fresh.fully_reviewed and fresh.unknown_classes == [] and fresh.classes_after_review == []
    assert old.fully_reviewed and old.classes_after_review == ["mine"] and old.unknown_classes == ["mine"]
    _, meta = load_checkpoint(ft_world["base"])
    ts = build_training_set(m, meta.classes, meta.feature_spec)
    assert ts.feature_set.classes == meta.classes + ["mine"] and ts.new_classes == ["mine"]
    video = next(v for v in ts.videos if v.name == old.name)
    assert video.annotation.meta == {UNLABELLED_KEY: ["mine"], BACKGROUND_UNKNOWN_KEY: ["mine"]}
    targets = ts.snippet_targets()
    assert not (targets[old.name] == 0).any() and (targets[old.name] > 0).any()   # no background
    assert (targets[fresh.name] == 0).any() and (targets[fresh.name] == 4).any()  # "mine" = class 3


def test_finetuning_on_a_new_class_grows_the_model_old_classes_first(ft_world, ft, tmp_path):
    project, train = _project_with_a_new_class(ft_world, ft, tmp_path / "p")
    try:
        manifest = ft.freeze(project, tmp_path / "m.json")
    finally:
        project.close()
    out = tmp_path / "grown.pt"
    messages = []
    run_job(FinetuneRequest(str(manifest), str(ft_world["base"]), str(out), steps=3, seed=1),
            messages.append, threading.Event(), threading.Event())
    assert messages[-1]["type"] == "done", messages[-1]
    assert json.loads(json.dumps(messages, allow_nan=False)) == messages
    _, base_meta = load_checkpoint(ft_world["base"])
    state, meta = load_checkpoint(out)
    assert meta.classes == base_meta.classes + ["mine"]
    assert meta.parent["path"] == str(ft_world["base"]) and meta.parent["classes_added"] == ["mine"]
    started, done = messages[0], messages[-1]
    assert started["new_classes"] == ["mine"] and started["classes"] == meta.classes
    assert done["metrics"]["classes"] == meta.classes
    # the held-out videos are the ones reviewed after "mine" existed (the others cannot tell)
    assert set(started["held_out"]) <= {r.name for r in train[:3]}
    model = build_model(meta.config, meta.feature_spec, len(meta.classes))
    model.load_state_dict(state)
