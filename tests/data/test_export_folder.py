"""Folder exports (ELAN, THUMOS14, W-TALC) never delete or overwrite what the user owns, and are
atomic as a set: a kill -9 at any point, or a full disk, leaves the previous export whole.

Before: an ELAN export deleted the user's `my_own_interview.eaf`, a THUMOS14 export their
`Jump_val.txt` (exit 0); 10 of 10 killed ELAN exports mixed old and new files with orphan .tmp
files; a full disk said "nothing was changed" after writing 56 files."""

from __future__ import annotations

import errno
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdanet_gui.cli import main
from sdanet_gui.data import export_folder
from sdanet_gui.data.annotations import load_annotations, save_annotations
from sdanet_gui.data.export_folder import ExportWouldOverwrite
from sdanet_gui.errors import UserError

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _load_sets():
    import importlib.util

    spec = importlib.util.spec_from_file_location("export_sets", Path(__file__).with_name("export_sets.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_set


make_set = _load_sets()


def snapshot(folder: Path) -> dict[str, bytes]:
    """The visible files (ELAN's DATE attribute blanked: it is the time of writing)."""
    return {p.name: re.sub(rb'DATE="[^"]*"', b'DATE=""', p.read_bytes())
            for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != export_folder.MANIFEST)


FORMATS = ("elan", "thumos14", "wtalc")


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """Each format's two sets (24 videos) as written into fresh folders."""
    root = tmp_path_factory.mktemp("expected")
    return {(fmt, v): snapshot(save_annotations(make_set(v), root / f"{fmt}{v}", fmt))
            for fmt in FORMATS for v in (0, 1)}


SMALL = 8   # videos in the kill tests: every step of an export is killed once


@pytest.fixture(scope="module")
def expected_small(tmp_path_factory):
    root = tmp_path_factory.mktemp("expected_small")
    return {(fmt, v): snapshot(save_annotations(make_set(v, SMALL), root / f"{fmt}{v}", fmt))
            for fmt in FORMATS for v in (0, 1)}


# --- what the user owns --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,own,kind", [("elan", "my_own_interview.eaf", "delete"),
                                          ("thumos14", "Jump_val.txt", "delete"),
                                          ("elan", "video_001.eaf", "overwrite"),
                                          ("thumos14", "Swim_test.txt", "overwrite"),
                                          ("wtalc", "labels.npy", "overwrite")])
def test_files_this_program_did_not_write_are_never_touched_without_force(tmp_path, capsys, fmt, own, kind):
    from sdanet_gui.project.exchange import import_annotations
    from sdanet_gui.project.store import Project

    out = tmp_path / "out"
    out.mkdir()
    (out / own).write_bytes(b"the user's own file\n")
    (out / "notes.txt").write_bytes(b"unrelated\n")
    with Project.create(tmp_path / "p") as p:
        import_annotations(p, save_annotations(make_set(0), tmp_path / "gt.json", "activitynet"))
    code = main(["export", "--project", str(tmp_path / "p"), "--format", fmt, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"would {kind}" in err and own in err and "--force" in err and "nothing was changed" in err
    assert (out / own).read_bytes() == b"the user's own file\n"
    assert sorted(p.name for p in out.iterdir()) == sorted([own, "notes.txt"])
    assert main(["export", "--project", str(tmp_path / "p"), "--format", fmt, "--out", str(out),
                 "--force"]) == 0
    assert not (out / own).exists() or (out / own).read_bytes() != b"the user's own file\n"
    assert (out / "notes.txt").read_bytes() == b"unrelated\n"         # never in the way
    assert len(load_annotations(out).videos) == 24


@pytest.mark.parametrize("fmt", FORMATS)
def test_our_own_files_are_replaced_and_removed_freely_unless_edited(tmp_path, expected, fmt):
    out = tmp_path / "out"
    save_annotations(make_set(0), out, fmt)
    (out / "notes.txt").write_bytes(b"mine\n")
    save_annotations(make_set(1), out, fmt)                # fewer videos and classes: stale removed
    assert snapshot(out) == {**expected[(fmt, 1)], "notes.txt": b"mine\n"}
    assert hidden(out) == []
    victim = sorted(export_folder.read_manifest(out))[0]
    (out / victim).write_bytes((out / victim).read_bytes() + b"\n")   # the user edits one of ours
    with pytest.raises(ExportWouldOverwrite) as err:
        save_annotations(make_set(0), out, fmt)
    assert victim in str(err.value)
    save_annotations(make_set(0), out, fmt, force=True)
    assert snapshot(out) == {**expected[(fmt, 0)], "notes.txt": b"mine\n"}


# --- a full disk ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_a_full_disk_at_any_write_leaves_the_old_set(tmp_path, expected, fmt, monkeypatch):
    out = tmp_path / "out"
    save_annotations(make_set(0), out, fmt)
    before = snapshot(out)
    manifest = (out / export_folder.MANIFEST).read_bytes()
    real = export_folder.write_file
    n_files = len(expected[(fmt, 1)]) + 1               # + the manifest
    for fail_at in range(n_files + 1):                  # the last: the journal
        calls = []

        def full_disk(path, data):
            calls.append(path)
            if len(calls) > fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
            real(path, data)

        monkeypatch.setattr(export_folder, "write_file", full_disk)
        if fail_at == n_files:
            monkeypatch.setattr(export_folder, "write_text", lambda *a: (_ for _ in ()).throw(
                UserError(f"{out}/{export_folder.JOURNAL}: the disk is full; nothing was changed")))
        with pytest.raises(UserError) as err:
            save_annotations(make_set(1), out, fmt)
        assert "the disk is full; nothing was changed" in str(err.value) and str(out) in str(err.value)
        assert snapshot(out) == before and hidden(out) == []
        assert (out / export_folder.MANIFEST).read_bytes() == manifest
    monkeypatch.undo()
    save_annotations(make_set(1), out, fmt)
    assert snapshot(out) == expected[(fmt, 1)]


# --- kill -9 ---------------------------------------------------------------------------------------

KILL_AT_STEP = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from export_sets import make_set
from sdanet_gui.data import export_folder
from sdanet_gui.data.annotations import save_annotations

target, fmt, version, kill_at = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
videos = int(sys.argv[6])
steps = [0]

def step(fn):
    def wrapped(*a, **k):
        steps[0] += 1
        if steps[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*a, **k)
    return wrapped

for name in ("rename", "unlink", "mkdir", "replace"):
    setattr(os, name, step(getattr(os, name)))
export_folder.write_file = step(export_folder.write_file)
save_annotations(make_set(version, videos), target, fmt)
print("STEPS", steps[0])
"""

LOOP = r"""
import sys
sys.path.insert(0, sys.argv[1])
from export_sets import make_set
from sdanet_gui.data.annotations import save_annotations
print("READY", flush=True)
i = 0
while True:
    i += 1
    save_annotations(make_set(i % 2, int(sys.argv[4])), sys.argv[2], sys.argv[3])
"""


def _child(code, *args, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env, **kw)


def _settled(folder: Path, expected, fmt) -> int:
    """Read the folder back as a user would (that rolls an interrupted export back) and say
    which set it holds: 0 or 1; a mix, a leftover or a touched user file fails."""
    load_annotations(folder)
    got = snapshot(folder)
    assert got.pop("mine.txt") == b"the user's\n"
    assert hidden(folder) == [], hidden(folder)
    for v in (0, 1):
        if got == expected[(fmt, v)]:
            assert set(export_folder.read_manifest(folder)) == set(expected[(fmt, v)])
            return v
    pytest.fail(f"a mix of two exports: {sorted(got)[:6]} ...")


@pytest.mark.parametrize("fmt", ["elan", "thumos14"])
def test_a_kill_at_every_step_leaves_the_old_set_or_the_new(tmp_path, expected_small, fmt):
    folder = tmp_path / "out"
    save_annotations(make_set(0, SMALL), folder, fmt)
    (folder / "mine.txt").write_bytes(b"the user's\n")
    done = _child(KILL_AT_STEP, HERE, folder, fmt, 1, 0, SMALL)   # count the steps of one export
    assert done.returncode == 0, done.stderr
    n_steps = int(done.stdout.split()[-1])
    assert n_steps > 2 * len(expected_small[(fmt, 1)])   # every file: a write and a rename
    assert _settled(folder, expected_small, fmt) == 1
    committed = []
    for kill_at in range(1, n_steps + 1):
        start = _settled(folder, expected_small, fmt)
        proc = _child(KILL_AT_STEP, HERE, folder, fmt, 1 - start, kill_at, SMALL)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        committed.append(_settled(folder, expected_small, fmt) != start)
    # killed before the commit (the journal's removal): the old set; after it: the new one
    first = committed.index(True)
    assert 0 < first < n_steps and all(committed[first:]), committed


def test_kill_9_after_random_delays_leaves_one_set(tmp_path, expected):
    fmt = "elan"
    folder = tmp_path / "out"
    save_annotations(make_set(0), folder, fmt)
    (folder / "mine.txt").write_bytes(b"the user's\n")
    rng = random.Random(12)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", LOOP, str(HERE), str(folder), fmt, "24"],
                                stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.05, 1.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        _settled(folder, expected, fmt)                  # one whole set, whichever
