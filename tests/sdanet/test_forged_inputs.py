"""Files made wrong on purpose get one sentence naming the file, never a traceback: JSON nested
too deeply, a checkpoint whose feature spec or config is forged, a checkpoint whose weights do
not fit the network its config describes (`sdanet finetune`, `predict`)."""

from __future__ import annotations

import json

import pytest

from sdanet_gui.cli import main
from sdanet_gui.data.synthetic import write_synthetic

TINY = {"model": {"hidden_dim": 16, "sda_heads": 2, "attention_hidden": 8, "sda_ffn_dim": 16,
                  "pfm_proj_dim": 8}, "train": {"max_seqlen": 40}}


def _one_line(capsys, code, *needles):
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert str(n) in lines[0], lines[0]
    return lines[0]


def test_json_nested_too_deeply_is_one_sentence(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    code = main(["import", "--project", str(tmp_path / "p"), "--annotations", str(deep)])
    _one_line(capsys, code, deep, "nested too deeply")
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"database": {"v": {"subset": "test", "annotations": [
        {"segment": [0, 1], "label": "A"}]}}}))
    code = main(["eval", "--gt", str(gt), "--pred", str(deep)])
    _one_line(capsys, code, deep, "nested too deeply")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Synthetic data and an untrained checkpoint that fits it (no training needed to load)."""
    from sdanet_gui.sdanet.checkpoint import CheckpointMeta, save_checkpoint
    from sdanet_gui.sdanet.config import SDANetConfig
    from sdanet_gui.sdanet.network import SDANet

    root = tmp_path_factory.mktemp("forged")
    data = write_synthetic(root / "syn", num_classes=3, dim=8, train_videos=6, test_videos=2,
                           min_snippets=20, max_snippets=30)
    from sdanet_gui.data.feature_sets import load_feature_set

    fs = load_feature_set(data)
    cfg = SDANetConfig.from_dict(TINY)
    model = SDANet(cfg, fs.spec, len(fs.classes))
    ckpt = root / "base.pt"
    save_checkpoint(ckpt, model.state_dict(), CheckpointMeta(list(fs.classes), fs.spec.to_dict(),
                                                             cfg.to_dict()))
    return root, data, ckpt


def _forge(src, dst, edit_meta=None, edit_state=None):
    import torch

    payload = torch.load(src, map_location="cpu", weights_only=True)
    meta = json.loads(payload["meta_json"])
    if edit_meta:
        edit_meta(meta)
    payload["meta_json"] = json.dumps(meta)
    if edit_state:
        edit_state(payload["state_dict"])
    torch.save(payload, dst)
    return dst


def test_the_untouched_checkpoint_works(setup, tmp_path, capsys):
    root, data, ckpt = setup
    assert main(["predict", "--ckpt", str(ckpt), "--data", str(data), "--out", str(tmp_path / "p.json")]) == 0


@pytest.mark.parametrize("what,edit,needle", [
    ("spec fps", lambda m: m["spec"].update(fps=-25.0), "feature spec"),
    ("spec modalities", lambda m: m["spec"].update(modalities=[["rgb", "many"]]), "feature spec"),
    ("config value", lambda m: m["config"]["model"].update(hidden_dim=-16), "model.hidden_dim"),
    ("config type", lambda m: m["config"].update(model=[1, 2]), "config"),
    ("classes", lambda m: m.update(classes=7), "classes"),
])
def test_a_forged_checkpoint_is_named(setup, tmp_path, capsys, what, edit, needle):
    root, data, ckpt = setup
    forged = _forge(ckpt, tmp_path / "forged.pt", edit_meta=edit)
    code = main(["predict", "--ckpt", str(forged), "--data", str(data), "--out", str(tmp_path / "p.json")])
    _one_line(capsys, code, forged, needle)
    code = main(["finetune", "--ckpt", str(forged), "--data", str(data), "--subset", "train",
                 "--steps", "1", "--out", str(tmp_path / "f.pt")])
    _one_line(capsys, code, forged, needle)


def test_finetune_with_weights_that_do_not_fit_is_named(setup, tmp_path, capsys):
    """The config says hidden_dim 16; these weights are of another shape. `load_state_dict` in
    the fine-tuning path was not wrapped: a RuntimeError traceback."""
    import torch

    root, data, ckpt = setup

    def widen(state):
        name = next(k for k, v in state.items() if v.ndim == 2)
        state[name] = torch.zeros(state[name].shape[0] + 3, state[name].shape[1])

    forged = _forge(ckpt, tmp_path / "wide.pt", edit_state=widen)
    code = main(["finetune", "--ckpt", str(forged), "--data", str(data), "--subset", "train",
                 "--steps", "1", "--out", str(tmp_path / "f.pt")])
    _one_line(capsys, code, forged, "weights do not fit")
    assert not (tmp_path / "f.pt").exists()
    code = main(["train", "--data", str(data), "--init", str(forged), "--iterations", "1",
                 "--out", str(tmp_path / "t.pt"), "--no-progress",
                 *[a for k, v in TINY["model"].items() for a in ("--set", f"model.{k}={v}")]])
    _one_line(capsys, code, forged, "weights do not fit")
