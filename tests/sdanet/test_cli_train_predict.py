"""`sdanet train` and `sdanet predict` as a user runs them: real subprocesses on a tiny synthetic
folder. Good input gives a checkpoint and an ActivityNet result file holding exactly the chosen
subset's videos; bad input gives a non-zero exit and ONE line that names the file and problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sdanet_gui.data.synthetic import write_synthetic

TINY = ["--set", "model.hidden_dim=16", "--set", "model.sda_heads=2", "--set", "model.attention_hidden=8",
        "--set", "model.sda_ffn_dim=16", "--set", "model.pfm_proj_dim=8", "--set", "train.max_seqlen=40",
        "--batch-size", "4", "--set", "train.same_class_pairs=1"]


def _sdanet(*args, timeout=180):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SDANET_DEVICE": "cpu"}
    return subprocess.run([sys.executable, "-m", "sdanet_gui.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def _one_line_error(proc, *needles):
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert str(n) in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = write_synthetic(root / "syn", num_classes=3, dim=8, train_videos=8, test_videos=3,
                           min_snippets=20, max_snippets=40)
    ckpt = root / "model.pt"
    proc = _sdanet("train", "--data", data, "--out", ckpt, "--iterations", 3, "--eval-every", 3,
                   "--seed", 1, "--without", "sda", *TINY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return root, data, ckpt, proc


def test_train_writes_a_checkpoint_and_prints_its_metrics(trained):
    root, data, ckpt, proc = trained
    assert ckpt.is_file()
    out = proc.stdout
    assert f"checkpoint     {ckpt}" in out and "validation mAP" in out and "test mAP" in out
    assert "selected step 3 by validation mAP" in out
    from sdanet_gui.sdanet.checkpoint import load_checkpoint

    _, meta = load_checkpoint(ckpt)
    assert meta.classes == ["class00", "class01", "class02"] and meta.spec["modalities"] == [["rgb", 8], ["flow", 8]]
    assert meta.config["modules"]["sda"] is False and meta.config["train"]["seed"] == 1
    assert meta.metrics["steps"] == 3 and meta.selection == "val"


def test_predict_writes_activitynet_results_for_exactly_the_chosen_subset(trained):
    root, data, ckpt, _ = trained
    pred = root / "pred.json"
    proc = _sdanet("predict", "--ckpt", ckpt, "--data", data, "--subset", "train", "--out", pred)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(pred.read_text())
    assert set(doc) >= {"version", "results", "external_data"} and doc["external_data"] == {}
    assert sorted(doc["results"]) == [f"syn_train_{i:04d}" for i in range(8)]
    entries = [e for v in doc["results"].values() for e in v]
    assert entries, "an untrained-ish model still proposes segments"
    for e in entries:
        assert e["label"] in ("class00", "class01", "class02") and isinstance(e["score"], float)
        assert 0 <= e["segment"][0] < e["segment"][1]


def _in_process(capsys, *args):
    """The same `sdanet` entry point in this process (saves a torch import per bad-input case)."""
    from sdanet_gui.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def test_predict_refuses_an_unknown_subset_listing_the_available_ones(trained, capsys):
    root, data, ckpt, _ = trained
    proc = _in_process(capsys, "predict", "--ckpt", ckpt, "--data", data, "--subset", "validation",
                       "--out", root / "x.json")
    _one_line_error(proc, "validation", "available: test, train")
    assert not (root / "x.json").exists()


def test_predict_refuses_data_with_other_classes(trained, tmp_path, capsys):
    _, _, ckpt, _ = trained
    other = write_synthetic(tmp_path / "other", num_classes=4, dim=8, train_videos=4, test_videos=2,
                            min_snippets=20, max_snippets=30)
    proc = _in_process(capsys, "predict", "--ckpt", ckpt, "--data", other, "--out", tmp_path / "p.json")
    _one_line_error(proc, ckpt, "3 classes", "4", "class03")
    assert not (tmp_path / "p.json").exists()


def test_predict_refuses_features_with_nan_naming_file_and_snippet(trained, tmp_path, capsys):
    """NaN or Inf in the features used to give NaN scores and 0 segments with exit 0."""
    import shutil

    import numpy as np

    _, data, ckpt, _ = trained
    bad = tmp_path / "bad"
    shutil.copytree(data, bad)
    victim = bad / "features" / "syn_test_0001.npy"
    feats = np.load(victim)
    feats[7, 3] = np.nan
    feats[12, 0] = np.inf
    np.save(victim, feats)
    proc = _in_process(capsys, "predict", "--ckpt", ckpt, "--data", bad, "--out", tmp_path / "p.json")
    _one_line_error(proc, victim, "'syn_test_0001'", "snippet 7 ", "NaN or Inf")
    assert not (tmp_path / "p.json").exists()


def test_bad_paths_exit_non_zero_with_one_line(trained, tmp_path, capsys):
    root, data, ckpt, _ = trained
    missing = tmp_path / "nowhere"
    _one_line_error(_sdanet("train", "--data", missing, "--out", tmp_path / "m.pt"), missing, "not found")
    bad_ckpt = tmp_path / "bad.pt"
    bad_ckpt.write_text("this is not a checkpoint")
    _one_line_error(_in_process(capsys, "predict", "--ckpt", bad_ckpt, "--data", data, "--out",
                                tmp_path / "p.json"), bad_ckpt, "not a readable SDANet checkpoint")
    _one_line_error(_in_process(capsys, "predict", "--ckpt", tmp_path / "none.pt", "--data", data,
                                "--out", tmp_path / "p.json"), "none.pt", "checkpoint not found")
    _one_line_error(_in_process(capsys, "train", "--data", data, "--out", tmp_path / "m.pt",
                                "--set", "train.nonsense=1"), "nonsense")
    _one_line_error(_in_process(capsys, "train", "--data", data, "--out", tmp_path / "m.pt",
                                "--without", "sdb"), "sdb", "sda")
    assert not (tmp_path / "m.pt").exists()


def test_wtalc_bundle_takes_timing_from_the_preset_and_dims_from_the_data(tmp_path, capsys):
    """A W-TALC bundle records no fps or snippet length: the preset fills those in, while the
    feature dims (here 2 x 16, not the preset's 2 x 64) still come from the features."""
    bundle = write_synthetic(tmp_path / "wt", fmt="wtalc", num_classes=3, dim=16, train_videos=8,
                             test_videos=4, min_snippets=30, max_snippets=40, seed=2)
    ckpt = tmp_path / "w.pt"
    r = _in_process(capsys, "train", "--data", bundle, "--preset", "synthetic",
                                 "--iterations", "3", "--out", ckpt, "--no-progress")
    assert r.returncode == 0, r.stderr
    r = _in_process(capsys, "predict", "--ckpt", ckpt, "--data", bundle,
                                 "--out", tmp_path / "p.json")
    assert r.returncode == 0, r.stderr
    r = _in_process(capsys, "train", "--data", bundle, "--iterations", "3",
                                 "--out", tmp_path / "x.pt", "--no-progress")
    assert r.returncode == 1 and "feature spec" in r.stderr
