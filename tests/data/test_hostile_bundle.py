"""A W-TALC bundle made to run code: its pickled object arrays ask pickle to call `open` (or
`os.system`) and create a file. Through every way a bundle comes in - `sdanet import`, `train`,
`predict`, `finetune` and the window's import - nothing is created, the command says which file
it refused, and a real bundle still loads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from sdanet_gui.bundled import model_files
from sdanet_gui.cli import main
from sdanet_gui.data.safe_npy import load_npy
from sdanet_gui.data.synthetic import BUNDLE_NAME, write_synthetic
from sdanet_gui.errors import UserError


class CreatesFile:
    """Unpickling this calls open(path, "w"): a file appears."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class RunsCommand:
    """Unpickling this runs a shell command that creates a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch '{self.path}'",))


def _object_array(items) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        arr[i] = x
    return arr


@pytest.fixture(scope="module")
def clean_bundle(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    return write_synthetic(root / "wt", fmt="wtalc", num_classes=3, dim=8, train_videos=4,
                           test_videos=2, min_snippets=20, max_snippets=24, seed=1)


def _crafted(clean: Path, tmp_path: Path, which: str, payload) -> tuple[Path, Path, Path]:
    """A copy of the bundle whose `which` file (labels, segments, labels_all, features) carries
    `payload` (a class whose unpickling creates the marker file): (bundle, marker, that file)."""
    bundle = tmp_path / "bundle"
    shutil.copytree(clean, bundle)
    marker = tmp_path / f"created-by-{which}"
    ann = bundle / f"{BUNDLE_NAME}-Annotations"
    feats = bundle / f"{BUNDLE_NAME}-I3D-JOINTFeatures.npy"
    if which == "features":
        target = feats
        items = list(load_npy(feats))
        items[0] = payload(marker)
    else:
        target = ann / f"{which}.npy"
        items = list(load_npy(target))
        items[0] = [payload(marker)] + list(items[0])[1:]
    np.save(target, _object_array(items), allow_pickle=True)
    return bundle, marker, target


def test_the_crafted_file_really_runs_code_under_plain_np_load(clean_bundle, tmp_path):
    """The attack is real: `np.load(allow_pickle=True)`, which the loader used before, creates
    the file - so the tests below would fail if the loader still unpickled freely."""
    for payload in (CreatesFile, RunsCommand):
        sub = tmp_path / payload.__name__
        sub.mkdir()
        _, marker, target = _crafted(clean_bundle, sub, "labels", payload)
        np.load(target, allow_pickle=True)
        assert marker.exists()


ENTRY_POINTS = {
    "import": lambda b, t: ["import", "--project", t / "proj", "--annotations", b],
    "train": lambda b, t: ["train", "--data", b, "--preset", "synthetic", "--iterations", "1",
                           "--out", t / "m.pt", "--no-progress"],
    "predict": lambda b, t: ["predict", "--ckpt", model_files() / "demo.pt", "--data", b,
                             "--out", t / "p.json"],
    "finetune": lambda b, t: ["finetune", "--ckpt", model_files() / "demo.pt", "--data", b,
                              "--subset", "train", "--steps", "1", "--out", t / "f.pt"],
}


# `import` reads a bundle's annotations only; the others read its features too
CASES = [(c, w) for c in ENTRY_POINTS for w in ("labels", "segments", "features")
         if not (c == "import" and w == "features")]


@pytest.mark.parametrize("payload", [CreatesFile, RunsCommand])
@pytest.mark.parametrize("command,which", CASES)
def test_no_command_runs_the_bundle(clean_bundle, tmp_path, capsys, command, which, payload):
    bundle, marker, target = _crafted(clean_bundle, tmp_path, which, payload)
    code = main([str(a) for a in ENTRY_POINTS[command](bundle, tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert not marker.exists()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert str(target) in lines[0] and "refused" in lines[0] and "nothing in it was run" in lines[0]


@pytest.mark.parametrize("which", ["labels", "segments", "labels_all"])
def test_the_windows_import_refuses_it_and_changes_nothing(clean_bundle, tmp_path, which):
    """The window imports a dropped folder with `project.exchange.import_annotations`."""
    from sdanet_gui.project.exchange import import_annotations
    from sdanet_gui.project.store import Project

    bundle, marker, target = _crafted(clean_bundle, tmp_path, which, CreatesFile)
    with Project.create(tmp_path / "proj") as project:
        with pytest.raises(UserError) as err:
            import_annotations(project, bundle)
        assert not marker.exists()
        assert str(target) in str(err.value) and "io.open" in str(err.value)
        assert project.videos() == [] and project.classes() == []


def test_a_real_bundle_and_our_own_writer_still_load(shared_data, clean_bundle):
    from sdanet_gui.data.annotations import load_annotations
    from sdanet_gui.data.feature_sets import load_feature_set
    from sdanet_gui.data.units import FeatureSpec

    real = load_annotations(shared_data / "annotations" / "thumos14reduced_wtalc")
    assert len(real.videos) == 412 and len(real.classes) == 20
    fs = load_feature_set(clean_bundle, spec=FeatureSpec(25.0, 16, 16, (("rgb", 8), ("flow", 8))))
    assert len(fs.videos) == 6 and fs.videos[0].features().shape[1] == 16


def test_integer_labels_and_malformed_entries_are_one_sentence(clean_bundle, tmp_path, capsys):
    bundle = tmp_path / "b"
    shutil.copytree(clean_bundle, bundle)
    labels = bundle / f"{BUNDLE_NAME}-Annotations" / "labels.npy"
    items = list(load_npy(labels))
    np.save(labels, _object_array([[0] * len(items[0])] + items[1:]), allow_pickle=True)
    assert main(["import", "--project", str(tmp_path / "p"), "--annotations", str(bundle)]) == 1
    err = capsys.readouterr().err
    assert str(labels) in err and "label is 0" in err and "Traceback" not in err
    np.save(labels, _object_array([7] + items[1:]), allow_pickle=True)   # not a list at all
    assert main(["import", "--project", str(tmp_path / "p"), "--annotations", str(bundle)]) == 1
    err = capsys.readouterr().err
    assert str(labels) in err and "expected a list" in err and "Traceback" not in err
