"""`sdanet finetune --project DIR`: the headless twin of the GUI's Fine-tune, end to end (a real
subprocess) and its refusals (in-process through `cli.main`, one line each, exit 1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from sdanet_gui import cli
from sdanet_gui.project.store import Project
from sdanet_gui.sdanet.checkpoint import load_checkpoint


def _sdanet(*args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SDANET_DEVICE": "cpu"}
    return subprocess.run([sys.executable, "-m", "sdanet_gui.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def _copy_project(world, dest):
    shutil.copytree(world["project"], dest)
    return dest


def _main_one_line_error(capsys, argv, *needles):
    code = cli.main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 1, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert str(n) in lines[0], lines[0]
    return lines[0]


def test_cli_project_run_registers_a_new_active_version_with_its_parent(ft_world, tmp_path):
    folder = _copy_project(ft_world, tmp_path / "proj")
    with Project.open(folder) as p:
        base_mv = p.add_model_version("base", checkpoint=ft_world["base"], metrics={})
        p.add_model_version("imported", metrics={})          # newer, but not the active one
        p.set_active_model_version(base_mv.id)
    proc = _sdanet("finetune", "--project", folder, "--steps", 3, "--seed", 2, "--trust-imported",
                   "--adopt", "always")
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert "held-out before" in text and "held-out after" in text and "trains on       class00:" in text
    assert "3 trained on, 3 held out" in text and "now active" in text
    assert "decision       adopted as asked (--adopt always)" in text
    with Project.open(folder, read_only=True) as p:
        active = p.active_model_version()
        assert active.id not in (base_mv.id,) and active.parent_id == base_mv.id
        ckpt = p.model_checkpoint(active)
        assert ckpt.parent == p.checkpoints_dir and ckpt.is_file()
        assert not os.path.isabs(active.checkpoint)               # stored inside the project
        f = active.metrics
    _, meta = load_checkpoint(ckpt)
    assert meta.metrics["finetune"]["after"] == f["after"] and meta.parent["path"] == str(ft_world["base"])
    shown = [ln for ln in text.splitlines() if ln.startswith("held-out after")][0]
    assert f"{100 * f['after']['average_mAP']:.2f}" in shown
    assert (folder / "cache" / "manifests" / f"{ckpt.stem}.json").is_file()


def test_cli_project_without_a_model_version_is_refused(ft_world, tmp_path, capsys):
    folder = _copy_project(ft_world, tmp_path / "proj")
    _main_one_line_error(capsys, ["finetune", "--project", str(folder), "--trust-imported"],
                         str(folder), "no model version", "--ckpt")
    with Project.open(folder, read_only=True) as p:
        assert p.model_versions() == [] and list(p.checkpoints_dir.iterdir()) == []


def test_cli_project_with_missing_features_names_the_file_and_registers_nothing(ft_world, tmp_path, capsys):
    folder = _copy_project(ft_world, tmp_path / "proj")
    gone = tmp_path / "moved" / "syn_train_0003.h5"
    with Project.open(folder) as p:
        mv = p.add_model_version("base", checkpoint=ft_world["base"])
        p.set_video_fields("syn_train_0003", feature_ref=str(gone))
    _main_one_line_error(capsys, ["finetune", "--project", str(folder), "--steps", "2",
                                  "--trust-imported"], str(gone), "not found", "previous model stays active")
    with Project.open(folder, read_only=True) as p:
        assert [m.id for m in p.model_versions()] == [mv.id] and p.active_model_version().id == mv.id
        assert list(p.checkpoints_dir.iterdir()) == []


def test_cli_project_honours_the_lock_of_a_project_open_elsewhere(ft_world, tmp_path, capsys):
    folder = _copy_project(ft_world, tmp_path / "proj")
    with Project.open(folder) as gui:               # as the GUI holds it
        gui.add_model_version("base", checkpoint=ft_world["base"])
        _main_one_line_error(capsys, ["finetune", "--project", str(folder), "--trust-imported"],
                             str(folder), "in use by pid")
        assert len(gui.model_versions()) == 1


def test_cli_flag_combinations_are_checked(ft_world, capsys):
    _main_one_line_error(capsys, ["finetune", "--ckpt", str(ft_world["base"])],
                         "--data, --subset, --out are required without --project")
    _main_one_line_error(capsys, ["finetune", "--project", str(ft_world["project"]), "--subset", "train"],
                         "use one or the other")


def test_the_active_model_version_falls_back_to_the_newest(tmp_path):
    with Project.create(tmp_path / "p") as p:
        assert p.active_model_version() is None
        a = p.add_model_version("a")
        b = p.add_model_version("b", parent_id=a.id)
        assert p.active_model_version().id == b.id
        p.set_active_model_version(a.id)
        assert p.active_model_version().id == a.id
        p.set_active_model_version(None)
        assert p.active_model_version().id == b.id
        with pytest.raises(Exception, match="no model version 99"):
            p.set_active_model_version(99)
        assert p.active_model_version().id == b.id


# --- the headless contracts (issue 14, section 5) ----------------------------------------------------

def _json_main(capsys, argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    return json.loads(out.out)


def _base_project(world, dest):
    folder = _copy_project(world, dest)
    with Project.open(folder) as p:
        base = p.add_model_version("base", checkpoint=world["base"])
        p.set_active_model_version(base.id)
    return folder


def test_finetune_json_says_whether_it_adopted_and_what_the_figure_rests_on(ft_world, tmp_path, capsys):
    folder = _base_project(ft_world, tmp_path / "proj")
    r = _json_main(capsys, ["finetune", "--project", folder, "--steps", 3, "--trust-imported", "--json"])
    _, base_meta = load_checkpoint(ft_world["base"])
    assert isinstance(r["adopted"], bool) and r["reason"] and r["classes"] == base_meta.classes
    h = r["held_out"]
    assert h["videos"] == 3 and h["segments"] >= 1 and len(h["interval"]) == 2
    assert 0.0 <= h["before"] <= 1.0 and 0.0 <= h["after"] <= 1.0          # fractions, not percent
    assert r["active_version"] == (r["new_version"] if r["adopted"] else "base")
    assert r["trains_on"]["videos"] == 6 and r["trains_on"]["self_training"] is False
    with Project.open(folder, read_only=True) as p:
        assert p.active_model_version().name == r["active_version"]
        assert [m.name for m in p.model_versions()] == ["base", "base ft1"]
    # --adopt never: registered, not used; --adopt always: used whatever the figures
    r = _json_main(capsys, ["finetune", "--project", folder, "--steps", 2, "--trust-imported", "--json",
                            "--adopt", "never", "--ckpt", ft_world["base"]])
    assert r["adopted"] is False and "--adopt never" in r["reason"] and r["new_version"] == "base ft2"
    r = _json_main(capsys, ["finetune", "--project", folder, "--steps", 2, "--trust-imported", "--json",
                            "--adopt", "always", "--ckpt", ft_world["base"]])
    assert r["adopted"] is True and r["active_version"] == r["new_version"] == "base ft3"


def test_train_project_is_a_cold_start_with_the_same_held_out_report(ft_world, tmp_path, capsys):
    folder = _base_project(ft_world, tmp_path / "proj")
    r = _json_main(capsys, ["train", "--project", folder, "--iterations", 3, "--trust-imported", "--json"])
    assert r["cold_start"] is True and r["new_version"] == "proj model 1" and r["parent_model_version"] is None
    h = r["held_out"]
    assert h["videos"] == 3 and h["before"] is not None and h["interval_of"] == "after - before"
    assert r["classes"] == ["class00", "class01", "class02"]
    _, meta = load_checkpoint(r["checkpoint"])
    assert meta.classes == r["classes"] and meta.config["model"]["hidden_dim"] == 32   # fits 2 x 8-d
    with Project.open(folder, read_only=True) as p:
        assert p.active_model_version().name == r["active_version"]
    _main_one_line_error(capsys, ["train", "--project", str(folder), "--preset", "synthetic"],
                         "--preset", "use one or the other")
    _main_one_line_error(capsys, ["train", "--out", str(tmp_path / "x.pt")], "--data is required without --project")


@pytest.mark.parametrize("fmt", ["pervideo", "wtalc"])
def test_import_with_features_and_reviewed_gives_a_project_ready_to_fine_tune(ft_world, ft, tmp_path, capsys, fmt):
    from sdanet_gui.data.synthetic import write_synthetic

    data = write_synthetic(tmp_path / "data", fmt, layout="h5", domain=1.0, train_videos=6, test_videos=0, **ft.SYN)
    annotations = data / "annotations.json" if fmt == "pervideo" else data / "Synthetic-Annotations"
    folder = tmp_path / "proj"
    code = cli.main(["import", "--project", str(folder), "--annotations", str(annotations),
                     "--features", str(data), "--reviewed"])
    out = capsys.readouterr().out
    assert code == 0 and "features: 6 of 6 videos linked" in out and "6 videos marked reviewed whole" in out
    with Project.open(folder, read_only=True) as p:
        for rec in p.videos():
            assert p.review_state(rec.id).state == "done"
            assert p.feature_file(rec) == folder / "features" / "imported" / f"{rec.name}.h5"
            assert p.feature_file(rec).is_file() and rec.feature_ref == f"features/imported/{rec.name}.h5"
            segs = p.segments(rec.id)
            assert segs and {s.provenance for s in segs} == {"confirmed"}
    # curated ground truth: fine-tuning needs no --trust-imported
    r = _json_main(capsys, ["finetune", "--project", folder, "--ckpt", ft_world["base"], "--steps", 2, "--json"])
    assert r["held_out"]["videos"] == 3 and r["trains_on"]["fully_reviewed"] == 6


def test_a_base_trained_by_sdanet_train_is_replayed_by_default(ft_world, ft, tmp_path, capsys):
    """`sdanet train --data` records where it trained; fine-tuning that base replays that set
    (against forgetting) and reports its test figure before / after; --no-replay does not."""
    from sdanet_gui.data.synthetic import write_synthetic

    data = write_synthetic(tmp_path / "base_set", train_videos=6, test_videos=2, **ft.SYN)
    base = tmp_path / "base.pt"
    tiny = ["model.hidden_dim=16", "model.sda_heads=2", "model.attention_hidden=8", "model.sda_ffn_dim=16",
            "model.pfm_proj_dim=8", "train.batch_size=4", "train.max_seqlen=40"]
    code = cli.main(["train", "--data", str(data), "--preset", "synthetic", "--iterations", "2", "--out", str(base),
                     "--no-progress", *[a for o in tiny for a in ("--set", o)]])
    assert code == 0, capsys.readouterr().err[-2000:]
    capsys.readouterr()
    _, meta = load_checkpoint(base)
    assert meta.metrics["training_set"]["path"] == str(data.absolute())
    folder = _copy_project(ft_world, tmp_path / "proj")
    r = _json_main(capsys, ["finetune", "--project", folder, "--ckpt", base, "--steps", 2,
                            "--trust-imported", "--json"])
    assert r["replay"] == str(data.absolute()) and r["replay_videos"] == 6
    assert r["base_test"]["videos"] == 2 and 0.0 <= r["base_test"]["after"] <= 1.0
    r = _json_main(capsys, ["finetune", "--project", folder, "--ckpt", base, "--steps", 2,
                            "--trust-imported", "--json", "--no-replay"])
    assert r["replay"] is None and r["replay_videos"] == 0 and "base_test" not in r
