"""Fine-tuning from a project, in-process: the manifest -> training set bridge, the message
protocol of `run_job`, the guarantee that the project path and `--subset` train identically,
and the failures that must end as one clear "failed" message with nothing written."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from sdanet_gui.sdanet.device import cpu_bf16_supported
from sdanet_gui.data.feature_files import FeatureFile, write_feature_file
from sdanet_gui.data.feature_sets import load_feature_set
from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.errors import UserError
from sdanet_gui.project.commands import SetReviewState
from sdanet_gui.jobs.finetune_job import FinetuneRequest, run_job
from sdanet_gui.project.manifest import Manifest, freeze_manifest
from sdanet_gui.jobs.training_set import REPLAY_PREFIX, build_training_set
from sdanet_gui.sdanet.checkpoint import load_checkpoint
from sdanet_gui.sdanet.finetune import finetune_feature_set


torch.set_num_threads(1)


def _run(request: FinetuneRequest) -> list[dict]:
    messages: list[dict] = []
    run_job(request, messages.append, threading.Event(), threading.Event())
    return messages


def _ckpt_meta(world):
    return load_checkpoint(world["base"])[1]


# --- the one core: project path == --subset path ---------------------------------------------------

def test_project_run_trains_bit_identically_to_the_subset_path_and_reports_in_order(ft_world, tmp_path):
    out = tmp_path / "ft.pt"
    msgs = _run(FinetuneRequest(str(ft_world["manifest"]), str(ft_world["base"]), str(out),
                                steps=4, seed=5))
    assert json.loads(json.dumps(msgs, allow_nan=False)) == msgs       # plain JSON messages
    types = [m["type"] for m in msgs]
    assert types[0] == "started" and types[1] == "eval" and types[-2] == "eval" and types[-1] == "done", types
    assert set(types[2:-2]) == {"progress"}
    steps = [m["step"] for m in msgs if m["type"] == "progress"]
    assert steps[0] == 1 and steps[-1] == 4 and steps == sorted(steps)
    started, before, after, done = msgs[0], msgs[1], msgs[-2], msgs[-1]
    assert (before["phase"], after["phase"]) == ("before", "after")
    # mixed precision on the CPU exactly where it multiplies bf16 natively (device.py)
    assert started["device"] == "cpu" and started["amp"] is cpu_bf16_supported() and started["steps"] == 4
    # 6 fully reviewed videos: 3 held out (enough to decide on), 3 trained on
    assert len(started["held_out"]) == 3 and len(started["train_videos"]) == 3
    assert not set(started["held_out"]) & set(started["train_videos"])
    progress = next(m for m in msgs if m["type"] == "progress")
    assert {"total", "snippet", "mil"} <= set(progress["losses"]) and progress["total"] == 4
    assert progress["snippets_per_s"] > 0 and progress["lr"] == pytest.approx(1e-3)

    # per-class held-out AP before/after, and the figures the checkpoint records
    held_classes = {s.label for v in Manifest.read(ft_world["manifest"]).videos
                    if v.name in started["held_out"] for s in v.segments}
    assert set(after["per_class"]) == held_classes
    assert all(0.0 <= ap <= 1.0 for ap in after["per_class"].values())
    metrics = done["metrics"]
    assert done["checkpoint"] == str(out) and done["stopped"] is False
    assert metrics["before"] == {k: before[k] for k in ("average_mAP", "mAP", "per_class")}
    assert metrics["after"]["average_mAP"] == after["average_mAP"]
    assert metrics["steps_done"] == 4 and metrics["held_out"] == started["held_out"]
    state, meta = load_checkpoint(out)
    assert meta.metrics["finetune"]["after"] == metrics["after"]
    # how far the figure can be trusted: what it rests on and a bootstrap interval over videos
    report = metrics["held_out_report"]
    assert report["videos"] == 3 and report["names"] == started["held_out"]
    assert report["segments"] == started["held_out_segments"] > 0
    assert report["before"] == pytest.approx(before["average_mAP"])
    assert report["after"] == pytest.approx(after["average_mAP"])
    lo, hi = report["interval"]
    assert -1.0 <= lo <= hi <= 1.0 and report["interval_of"] == "after - before"
    assert metrics["classes"] == started["classes"] == meta.classes and metrics["new_classes"] == []

    # the same material through `sdanet finetune --subset` (all videos of 'train', reviewed
    # whole) with the same seed gives the same weights, tensor for tensor
    fs = load_feature_set(ft_world["data"], train_subset="train", test_subset="test")
    twin = finetune_feature_set(ft_world["base"], fs, "train", steps=4, out=None, seed=5)
    twin_state = twin.model.state_dict()
    assert sorted(twin_state) == sorted(state)
    assert all(torch.equal(state[k], twin_state[k].cpu()) for k in state)
    assert twin.metrics["finetune"]["held_out"] == metrics["held_out"]
    base_state, _ = load_checkpoint(ft_world["base"])
    assert not all(torch.equal(state[k], base_state[k]) for k in state)   # it did train


# --- the manifest -> training set bridge ---------------------------------------------------------

def test_partial_review_and_ambiguous_spans_are_never_background(ft_world, ft, tmp_path):
    project = ft.project_from_data(tmp_path / "p", ft_world["data"])
    try:
        spec, classes = _ckpt_meta(ft_world).feature_spec, _ckpt_meta(ft_world).classes
        video = project.video("syn_train_0000")     # provisional millisecond clock
        segs = project.segments(video.id)
        first_end = max(s.end_frame for s in segs)
        s_ms = 1000.0 * spec.snippet_seconds        # one snippet in provisional frames (ms)
        reviewed_to = int(round(first_end + 3 * s_ms))
        SetReviewState(video.id, "partial", reviewed_to).apply(project)
        project.add_ambiguous(video.id, [(0.0, 2 * spec.snippet_seconds)])  # snippets 0, 1
        m = freeze_manifest(project, [video.id], trust_imported=True)
    finally:
        project.close()
    ts = build_training_set(m, classes, spec)
    (name,) = [v.name for v in ts.videos]
    t = ts.snippet_targets()[name]
    inside = np.zeros(len(t), bool)
    for s in ts.videos[0].annotation.segments:
        a, b = spec.seconds_to_snippet(s.start), spec.seconds_to_snippet(s.end)
        inside |= (np.arange(len(t)) + 0.5 >= a) & (np.arange(len(t)) + 0.5 < b)
    end_snippet = int(np.floor(spec.seconds_to_snippet(reviewed_to / 1000.0)))
    assert (t[inside] > 0).all()                               # human segments label
    assert (t[end_snippet:][~inside[end_snippet:]] == -1).all()  # unreviewed: unknown
    assert (t[:2][~inside[:2]] == -1).all()                    # ambiguous: unknown
    mid = ~inside & (np.arange(len(t)) >= 2) & (np.arange(len(t)) < end_snippet)
    assert mid.any() and (t[mid] == 0).all()                   # reviewed, no segment: background


def test_videos_without_features_or_review_are_skipped_and_counted(ft_world, ft, tmp_path):
    project = ft.project_from_data(tmp_path / "p", ft_world["data"])
    try:
        names = [r.name for r in project.videos() if r.subset == "train"]
        project.set_video_fields(names[0], feature_ref="")          # no features
        tests = [r.id for r in project.videos() if r.subset == "test"]
        m = freeze_manifest(project, [project.video(n).id for n in names] + tests[:1])
    finally:
        project.close()
    meta = _ckpt_meta(ft_world)
    ts = build_training_set(m, meta.classes, meta.feature_spec)
    assert [v.name for v in ts.videos] == names[1:]
    assert ts.skipped == {"no_features": [names[0]], "nothing_reviewed": [m.videos[-1].name]}
    assert ts.skipped_count == 2


def test_missing_feature_files_and_wrong_dims_are_refused_naming_the_file(ft_world, ft, tmp_path):
    meta = _ckpt_meta(ft_world)
    project = ft.project_from_data(tmp_path / "p", ft_world["data"])
    try:
        names = [r.name for r in project.videos() if r.subset == "train"]
        gone = tmp_path / "gone" / f"{names[0]}.h5"
        project.set_video_fields(names[0], feature_ref=str(gone))
        missing = ft.freeze(project, tmp_path / "m1.json")
        other = FeatureSpec(25.0, 16, 16, (("rgb", 3), ("flow", 3)))
        wrong = tmp_path / "wrong.h5"
        write_feature_file(wrong, FeatureFile(names[0], np.zeros((30, 6), np.float32), other))
        project.set_video_fields(names[0], feature_ref=str(wrong))
        bad_dims = ft.freeze(project, tmp_path / "m2.json")
    finally:
        project.close()
    with pytest.raises(UserError, match="not found") as err:
        build_training_set(Manifest.read(missing), meta.classes, meta.feature_spec)
    assert str(gone) in str(err.value) and names[0] in str(err.value)
    with pytest.raises(UserError, match="6 dims") as err:
        build_training_set(Manifest.read(bad_dims), meta.classes, meta.feature_spec, checkpoint="base.pt")
    assert str(wrong) in str(err.value) and "base.pt expects" in str(err.value)
    # the same through a job: one "failed"/"input" message, nothing written
    out = tmp_path / "x.pt"
    (final,) = _run(FinetuneRequest(str(missing), str(ft_world["base"]), str(out), steps=2))
    assert final["type"] == "failed" and final["kind"] == "input"
    assert str(gone) in final["message"] and "previous model stays active" in final["message"]
    assert not out.exists()


def test_replay_videos_join_the_training_and_are_never_held_out(ft_world, ft, tmp_path):
    from sdanet_gui.data.synthetic import write_synthetic

    replay = write_synthetic(tmp_path / "replay", train_videos=3, test_videos=1, **ft.SYN)
    meta = _ckpt_meta(ft_world)
    ts = build_training_set(Manifest.read(ft_world["manifest"]), meta.classes, meta.feature_spec,
                            replay=str(replay))
    assert [v.name for v in ts.replay] == [f"{REPLAY_PREFIX}syn_train_{i:04d}" for i in range(3)]
    assert [v.name for v in ts.replay_test] == [f"{REPLAY_PREFIX}syn_test_0000"]
    assert set(ts.snippet_targets()) == {v.name for v in ts.videos}   # the corrected videos'
    msgs = _run(FinetuneRequest(str(ft_world["manifest"]), str(ft_world["base"]),
                                str(tmp_path / "r.pt"), steps=2, replay=str(replay)))
    assert msgs[0]["replay_videos"] == 3 and msgs[-1]["type"] == "done", msgs[-1]
    assert msgs[0]["replay"] == str(replay)
    metrics = msgs[-1]["metrics"]
    assert metrics["replay_videos"] == 3 and not set(metrics["held_out"]) & {v.name for v in ts.replay}
    # the base's own test figure before and after: how much it forgot
    base_test = metrics["base_test"]
    assert base_test["videos"] == 1 and 0.0 <= base_test["before"] <= 1.0 and 0.0 <= base_test["after"] <= 1.0


# --- failures: one final message, nothing at out_checkpoint ----------------------------------------

def test_a_diverging_run_fails_with_kind_nan_and_writes_nothing(ft_world, tmp_path):
    out = tmp_path / "nan.pt"
    base_bytes = ft_world["base"].read_bytes()
    msgs = _run(FinetuneRequest(str(ft_world["manifest"]), str(ft_world["base"]), str(out),
                                steps=20, lr=1e30))
    final = msgs[-1]
    assert final["type"] == "failed" and final["kind"] == "nan", final
    assert "step 2" in final["message"] and "learning rate" in final["message"]
    assert "previous model stays active" in final["message"] and "\n" not in final["message"]
    assert "TrainingDiverged" in final["details"]
    assert [m["type"] for m in msgs[:2]] == ["started", "eval"]
    assert not out.exists() and ft_world["base"].read_bytes() == base_bytes


def test_an_unwritable_output_folder_fails_before_training_with_a_clear_message(ft_world, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the checkpoint folder should be")
    out = blocker / "ft.pt"
    msgs = _run(FinetuneRequest(str(ft_world["manifest"]), str(ft_world["base"]), str(out), steps=2))
    assert [m["type"] for m in msgs] == ["failed"]
    assert msgs[0]["kind"] in ("disk", "input") and str(out) in msgs[0]["message"]
    assert "cannot write the new checkpoint: a file stands where the folder" in msgs[0]["message"]
    assert blocker.read_text().startswith("a file")
    # an existing file at out_checkpoint is never replaced
    existing = tmp_path / "old.pt"
    existing.write_bytes(b"an older model")
    (final,) = _run(FinetuneRequest(str(ft_world["manifest"]), str(ft_world["base"]), str(existing)))
    assert final["kind"] == "input" and "already exists" in final["message"]
    assert existing.read_bytes() == b"an older model"


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_read_only_checkpoints_folder_fails_with_kind_disk(ft_world, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        (final,) = _run(FinetuneRequest(str(ft_world["manifest"]), str(ft_world["base"]),
                                        str(ro / "ft.pt"), steps=2))
    finally:
        ro.chmod(0o755)
    assert final["kind"] == "disk" and "not writable" in final["message"]
    assert not (ro / "ft.pt").exists()


def test_failures_are_classified_by_what_the_user_can_do_about_them(tmp_path):
    import errno

    from sdanet_gui.atomic import write_bytes
    from sdanet_gui.jobs.finetune_job import _final_for
    from sdanet_gui.sdanet.trainer import TrainingDiverged

    req = FinetuneRequest("m.json", "base.pt", str(tmp_path / "out.pt"))

    def raised(exc):
        try:
            raise exc
        except BaseException as caught:   # a real traceback for "details"
            return _final_for(caught, req)

    assert raised(MemoryError())["kind"] == "oom"
    assert raised(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to "
                               "allocate 1099511627776 bytes"))["kind"] == "oom"
    assert raised(TrainingDiverged("training diverged at step 3"))["kind"] == "nan"
    full = raised(OSError(errno.ENOSPC, "No space left on device"))
    assert full["kind"] == "disk" and str(tmp_path / "out.pt") in full["message"]
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError) as err:  # the atomic writer's own error: a file in the way
        write_bytes(tmp_path / "file" / "x.pt", b"x")
    assert raised(err.value)["kind"] == "input"

    def disk_full_while_writing():
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:             # what atomic.py does with it
            raise UserError(f"{tmp_path / 'out.pt'}: the disk is full; nothing was changed") from exc

    with pytest.raises(UserError) as err:
        disk_full_while_writing()
    assert raised(err.value)["kind"] == "disk"
    assert raised(UserError("m.json: not a readable training manifest"))["kind"] == "input"
    bug = raised(KeyError("oops"))
    assert bug["kind"] == "crash" and "KeyError" in bug["message"] and "Traceback" in bug["details"]
    for final in (full, bug):
        assert final["message"].endswith("the previous model stays active")
