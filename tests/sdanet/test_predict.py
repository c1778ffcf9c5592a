"""Prediction as the CLI and the GUI run it: whole videos through the network in eval mode,
score curves on the snippet grid, segments in seconds, only the chosen subset, cancellable
between videos."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdanet_gui.data.synthetic import make_synthetic
from sdanet_gui.errors import Cancelled, UserError
from sdanet_gui.sdanet.config import SDANetConfig, apply_overrides
from sdanet_gui.sdanet.network import SDANet
from sdanet_gui.sdanet.predict import predict_feature_set, score_features

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def setup():
    fs = make_synthetic(seed=2, num_classes=3, dim=8, train_videos=3, test_videos=4,
                        min_snippets=20, max_snippets=50)
    cfg = apply_overrides(SDANetConfig(), ["model.hidden_dim=16", "model.sda_heads=2",
                                           "model.attention_hidden=8", "model.sda_ffn_dim=16"])
    torch.manual_seed(0)
    return fs, SDANet(cfg, fs.spec, 3)


def test_score_curves_cover_every_snippet_and_do_not_depend_on_train_mode(setup):
    fs, model = setup
    video = fs.by_subset("test")[0]
    model.train()                                  # dropout on: prediction must switch it off
    a = score_features(model, video.features())
    b = score_features(model, video.features())
    assert model.training, "the caller's mode is restored"
    assert a.cas.shape == (video.num_snippets, 4) and a.attention.shape == (video.num_snippets,)
    assert set(a.modality_attention) == {"rgb", "flow"}
    np.testing.assert_array_equal(a.cas, b.cas)
    assert np.all((a.attention >= 0) & (a.attention <= 1))


def test_only_the_chosen_subset_is_predicted_in_seconds_inside_each_video(setup):
    fs, model = setup
    done = []
    preds = predict_feature_set(model, fs, "train", progress=lambda i, n: done.append((i, n)))
    assert sorted(preds) == sorted(v.name for v in fs.by_subset("train"))
    assert done == [(1, 3), (2, 3), (3, 3)]
    for v in fs.by_subset("train"):
        for seg in preds[v.name]:
            assert 0 <= seg.start < seg.end <= v.annotation.duration + fs.spec.snippet_seconds
            assert seg.label in fs.classes and seg.score is not None
    assert len(predict_feature_set(model, fs, None)) == 7
    with pytest.raises(UserError, match="available: test, train"):
        predict_feature_set(model, fs, "validation")


def test_cancel_is_honoured_between_videos(setup):
    fs, model = setup
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        predict_feature_set(model, fs, "test", cancel=cancel)
    assert len(calls) == 3
