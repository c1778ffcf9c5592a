"""Read and write temporal action annotations in every format we exchange, chosen by path.

`load_annotations(path)` detects the format from what the path is (see `detect_format`):
  activitynet  .json with `database` (or the bare {video: {...}} layout); segments may be strings
  thumos14     a folder of `<Class>_<subset>.txt` files (or subfolders of them), or one such file
  wtalc        a W-TALC annotation folder (videoname.npy, classlist.npy, ...), or a bundle folder
               holding `<Name>-Annotations/`
  csv          our table (csv_format.COLUMNS)      gtad_csv  G-TAD's test_Annotation.csv
  elan         a folder of .eaf files or one .eaf file
ActivityNet result files (`results`) are predictions: `load_predictions`. Writers:
`save_annotations(aset, path, fmt)` with fmt in WRITE_FORMATS, `save_predictions`.

This module only dispatches; each format lives in its own module. Every write is atomic, every
read either returns the whole file or raises one UserError naming the file, entry and problem.
"""

from __future__ import annotations

from pathlib import Path

from .annotation_checks import apply_fps, check_labels, fail
from .export_folder import recover_for_reading
from .structures import AnnotationSet, Segment

WRITE_FORMATS = ("activitynet", "thumos14", "csv", "elan", "wtalc", "gtad_csv")
READ_FORMATS = ("activitynet", "thumos14", "wtalc", "csv", "gtad_csv", "elan")


def _sniff_suffix(path: Path) -> str:
    """The suffix a file's content implies, for exports saved without one (`--out gt`)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return ""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return ".json"
    if text.startswith(b"<") and b"ANNOTATION_DOCUMENT" in head:
        return ".eaf"
    first_line = text.split(b"\n", 1)[0]
    return ".csv" if first_line.count(b",") >= 3 else ""


def detect_format(path: str | Path) -> str:
    """The format name of a file or folder; 'activitynet_results' for prediction files."""
    from . import activitynet, csv_format, thumos, wtalc

    path = Path(path)
    if not path.exists():
        raise fail(path, "", "file or folder not found")
    if path.is_dir():
        # an export into the folder (or a subfolder) that was interrupted is rolled back first
        for folder in [path] + [d for d in path.iterdir() if d.is_dir()]:
            recover_for_reading(folder)
        if wtalc.is_wtalc_folder(path):
            return "wtalc"
        if _bundle_annotations(path) is not None:
            return "wtalc"
        if any(path.glob("*.eaf")):
            return "elan"
        if thumos.thumos_folders(path):
            return "thumos14"
        if (path / "annotations.json").is_file():
            return detect_format(path / "annotations.json")
        raise fail(path, "", "no annotation files recognised in this folder (expected ActivityNet "
                             "annotations.json, THUMOS14 <Class>_<subset>.txt, W-TALC .npy or ELAN .eaf)")
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv", ".txt", ".eaf"):
        suffix = _sniff_suffix(path) or suffix
    if suffix == ".json":
        kind = activitynet.kind_of(activitynet.read_json(path))
        if kind == "results":
            return "activitynet_results"
        if kind == "gt":
            return "activitynet"
        raise fail(path, "", "JSON is neither ActivityNet ground truth ('database') nor results ('results')")
    if suffix == ".csv":
        kind = csv_format.kind_of(path)
        if not kind:
            raise fail(path, "header", f"unknown CSV columns (expected {','.join(csv_format.COLUMNS)} "
                                       f"or {','.join(csv_format.GTAD_COLUMNS)})")
        return kind
    if suffix == ".txt":
        return "thumos14"
    if suffix == ".eaf":
        return "elan"
    raise fail(path, "", f"unknown annotation format '{suffix or path.name}'")


def _bundle_annotations(folder: Path) -> Path | None:
    from . import wtalc

    found = [d for d in sorted(folder.glob("*-Annotations")) if wtalc.is_wtalc_folder(d)]
    return found[0] if len(found) == 1 else None


def load_annotations(path: str | Path, *, classes: list[str] | None = None,
                     fps: float | None = None) -> AnnotationSet:
    """Read any supported annotation file or folder. With `classes`, a label outside it is an
    error naming the file, entry and label. `fps` fills the frame rate where the file has none."""
    from . import activitynet, csv_format, elan, thumos, wtalc

    path = Path(path)
    fmt = detect_format(path)
    if fmt == "activitynet_results":
        raise fail(path, "", "this is a result (prediction) file, not ground truth; import it as predictions")
    if fmt == "activitynet":
        target = path / "annotations.json" if path.is_dir() else path
        aset = activitynet.read_gt(target)
    elif fmt == "thumos14":
        aset = thumos.read_folder(path) if path.is_dir() else thumos.read_file(path)
    elif fmt == "wtalc":
        aset = wtalc.read_folder(path if wtalc.is_wtalc_folder(path) else _bundle_annotations(path))
    elif fmt == "csv":
        aset = csv_format.read_csv(path, fps=fps)
    elif fmt == "gtad_csv":
        aset = csv_format.read_gtad_csv(path)
    elif fmt == "elan":
        aset = elan.read_folder(path)
    else:  # pragma: no cover - detect_format returns only the names above
        raise fail(path, "", f"unsupported format {fmt}")
    aset.info.setdefault("format", fmt)
    if classes is not None:
        check_labels(aset, classes, path)
        aset.classes = list(classes)
    apply_fps(aset, fps)
    return aset


def load_predictions(path: str | Path, *, for_evaluation: bool = False) -> dict[str, list[Segment]]:
    """Predictions of an ActivityNet result file: video -> segments with scores.
    `for_evaluation`: keep spans that end before they start (the official evaluator scores them)."""
    from . import activitynet

    path = Path(path)
    if not path.is_file():
        raise fail(path, "", "file not found")
    return activitynet.read_results(path, for_evaluation=for_evaluation)


def save_annotations(aset: AnnotationSet, path: str | Path, fmt: str, *,
                     media_paths: dict[str, str] | None = None, force: bool = False) -> Path:
    """Write `aset` as `fmt` (WRITE_FORMATS). Folder formats (thumos14, elan, wtalc) write into
    the folder `path` as one set (`export_folder`: files this program did not write there are
    neither overwritten nor deleted without `force`, which otherwise raises
    `export_folder.ExportWouldOverwrite`); a file format replaces its file atomically. Returns
    the path written."""
    from . import activitynet, csv_format, elan, thumos, wtalc

    path = Path(path)
    if fmt == "activitynet":
        return activitynet.write_gt(aset, path)
    if fmt == "thumos14":
        return thumos.write_folder(aset, path, force=force)
    if fmt == "csv":
        return csv_format.write_csv(aset, path)
    if fmt == "gtad_csv":
        return csv_format.write_gtad_csv(aset, path)
    if fmt == "elan":
        return elan.write_folder(aset, path, media_paths=media_paths, force=force)
    if fmt == "wtalc":
        return wtalc.write_folder(aset, path, force=force)
    raise fail(path, "", f"unknown export format {fmt!r} (choose from {', '.join(WRITE_FORMATS)})")


def save_predictions(preds: dict[str, list[Segment]], path: str | Path, version: str = "VERSION 1.3") -> Path:
    """`{"version", "results": {video: [{"label", "score", "segment": [s, e]}]}, "external_data": {}}`."""
    from . import activitynet

    return activitynet.write_results(preds, path, version=version)
