"""The W-TALC annotation folder (`<Name>-Annotations/`) used by W-TALC, CO2-Net, DELU, DDG-Net.

Files: `videoname.npy` (N,) S-dtype, `subset.npy` (N,) S-dtype, `classlist.npy` (C,) S-dtype,
`duration.npy` (N, 1) float64, `labels.npy` / `segments.npy` (N,) object arrays of per-video
lists (label strings; [start_s, end_s] pairs, aligned with the labels), `labels_all.npy` (N,)
object array of the video-level label lists, optional `original_fps.npy` (N,) float64, and
`Ambiguous_test.txt` (THUMOS14 ambiguous intervals). Labels may come back as str or bytes.

SECURITY: the community format stores `labels`, `labels_all`, `segments` (and the bundle's
features) as pickled object arrays. They are never handed to `pickle.load`: every file here is
read by `safe_npy.load_npy`, whose restricted unpickler builds only numpy arrays, dtypes, scalars
and plain lists/tuples/str/bytes/numbers, and refuses a file that asks for anything else
(a crafted bundle cannot run code). Element types are checked here, so a label that is a number
or a segment that is not [start, end] is one UserError naming file and entry.

`labels_all` in the original THUMOS14 files is not always the set of segment labels (it comes
from the video-level label files); the reader keeps it in `VideoAnnotation.meta["labels_all"]`
and the writer writes it back unchanged while the video's segment labels are those read (exact
round trip), or adds the segment labels it lacks once they changed.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from .annotation_checks import (check_class_list, check_labels, fail, make_interval, make_segment,
                                parse_duration, parse_fps)
from .export_folder import recover_for_reading, write_file_set
from .labels import is_ambiguous
from .safe_npy import load_npy
from .structures import AnnotationSet, VideoAnnotation
from .thumos import AMBIGUOUS, format_time

log = logging.getLogger(__name__)

REQUIRED = ("videoname", "subset", "classlist", "labels", "segments")


def is_wtalc_folder(folder: Path) -> bool:
    return folder.is_dir() and (folder / "videoname.npy").is_file() and (folder / "classlist.npy").is_file()


def _text(v, path: Path, where: str, what: str) -> str:
    """A name stored as str or bytes (UTF-8); anything else is the file's error."""
    if isinstance(v, (bytes, np.bytes_)):
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            raise fail(path, where, f"{what} {bytes(v)!r} is not UTF-8 text") from None
    if isinstance(v, str):
        return str(v)
    raise fail(path, where, f"{what} is {v!r} ({type(v).__name__}), expected text")


def _texts(arr, path: Path, what: str) -> list[str]:
    return [_text(v, path, f"entry {i}", what) for i, v in enumerate(np.asarray(arr).reshape(-1))]


def _items(value, path: Path, where: str, what: str) -> list:
    """A per-video list (list, tuple or 1-D array) from an object array."""
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        return list(value)
    raise fail(path, where, f"{what} is {value!r}, expected a list")


def _load(folder: Path, name: str):
    return load_npy(folder / f"{name}.npy")


def read_folder(folder: str | Path) -> AnnotationSet:
    folder = Path(folder)
    recover_for_reading(folder)
    missing = [f"{n}.npy" for n in REQUIRED if not (folder / f"{n}.npy").is_file()]
    if missing:
        raise fail(folder, "", f"not a complete W-TALC annotation folder (missing {', '.join(missing)})")
    names = _texts(_load(folder, "videoname"), folder / "videoname.npy", "video name")
    n = len(names)
    subsets = _texts(_load(folder, "subset"), folder / "subset.npy", "subset")
    classes = check_class_list(_texts(_load(folder, "classlist"), folder / "classlist.npy", "class name"),
                               folder / "classlist.npy")
    labels = _load(folder, "labels")
    segments = _load(folder, "segments")
    labels_all = _load(folder, "labels_all") if (folder / "labels_all.npy").is_file() else None
    duration = _load(folder, "duration") if (folder / "duration.npy").is_file() else None
    fps = _load(folder, "original_fps") if (folder / "original_fps.npy").is_file() else None
    for fname, arr in (("subset", subsets), ("labels", labels), ("segments", segments),
                       ("labels_all", labels_all), ("duration", duration), ("original_fps", fps)):
        if arr is not None and len(arr) != n:
            raise fail(folder / f"{fname}.npy", "", f"has {len(arr)} entries but videoname.npy has {n}")
    videos: dict[str, VideoAnnotation] = {}
    for i, name in enumerate(names):
        where = f"video {i} ({name!r})"
        if name in videos:
            raise fail(folder / "videoname.npy", where, "appears twice")
        v = VideoAnnotation(name=name, subset=subsets[i])
        if duration is not None:
            d = np.asarray(duration[i]).reshape(-1)
            v.duration = parse_duration(d[0], folder / "duration.npy", where) if d.size else None
        if fps is not None:
            v.fps = parse_fps(np.asarray(fps[i]).reshape(-1)[0], folder / "original_fps.npy", where)
        labs = _items(labels[i], folder / "labels.npy", where, "the label list")
        segs = _items(segments[i], folder / "segments.npy", where, "the segment list")
        if len(labs) != len(segs):
            raise fail(folder / "segments.npy", where, f"{len(segs)} segments but {len(labs)} labels")
        for j, (lab, seg) in enumerate(zip(labs, segs)):
            at = f"{where}, segment {j}"
            seg = _items(seg, folder / "segments.npy", at, "the segment")
            if len(seg) != 2:
                raise fail(folder / "segments.npy", at, f"is {seg!r}, expected [start, end]")
            label = _text(lab, folder / "labels.npy", at, "label")
            if is_ambiguous(label):
                v.ambiguous.append(make_interval(seg[0], seg[1], folder / "segments.npy", at, v.duration))
                continue
            v.segments.append(make_segment(label, seg[0], seg[1], folder / "segments.npy", at,
                                           duration=v.duration))
        if labels_all is not None:
            v.meta["labels_all"] = [_text(x, folder / "labels_all.npy", where, "label")
                                    for x in _items(labels_all[i], folder / "labels_all.npy", where,
                                                    "the label list")]
            v.meta["labels_all_segment_labels"] = v.labels
        videos[name] = v
    for amb in sorted(folder.glob(f"{AMBIGUOUS}_*.txt")):
        _read_ambiguous(amb, videos)
    aset = AnnotationSet(videos=videos, classes=classes, source=str(folder))
    check_labels(aset, classes, folder / "labels.npy")
    return aset


def _read_ambiguous(path: Path, videos: dict[str, VideoAnnotation]) -> None:
    unknown = set()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(path, "", f"cannot read the file ({exc})") from None
    for no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise fail(path, f"line {no}", f"expected 'video start end', got {line.strip()!r}")
        if parts[0] not in videos:
            unknown.add(parts[0])
            continue
        video = videos[parts[0]]
        video.ambiguous.append(make_interval(parts[1], parts[2], path, f"line {no}", video.duration))
    if unknown:
        log.info("%s: ignored ambiguous intervals of %d video(s) not in videoname.npy", path, len(unknown))


def write_folder(aset: AnnotationSet, folder: str | Path, *, force: bool = False) -> Path:
    """Write the folder with the original files' dtypes; every video needs a duration. Written
    as one set (`export_folder`): optional files of an earlier export that this one does not
    write (original_fps.npy when a frame rate is unknown, extracted_fps.npy,
    Ambiguous_<subset>.txt) are removed; files this program did not write are neither
    overwritten nor removed without `force`."""
    folder = Path(folder)
    names = list(aset.videos)
    classes = list(aset.classes) or aset.all_labels()
    for name, v in aset.videos.items():
        if v.duration is None:
            raise fail(folder, f"video {name!r}", "has no duration; the W-TALC format needs one "
                                                  "(open the video or import a file that has it)")
    check_labels(aset, classes, folder)
    n = len(names)
    labels = np.empty(n, dtype=object)
    labels_all = np.empty(n, dtype=object)
    segments = np.empty(n, dtype=object)
    for i, name in enumerate(names):
        v = aset.videos[name]
        labels[i] = [s.label for s in v.segments]
        segments[i] = [[float(s.start), float(s.end)] for s in v.segments]
        labels_all[i] = _labels_all(v)
    arrays = {
        "videoname": _bytes_array(names),
        "subset": _bytes_array([aset.videos[k].subset for k in names]),
        "classlist": _bytes_array(classes),
        "duration": np.array([[float(aset.videos[k].duration)] for k in names], dtype=np.float64).reshape(n, 1),
        "labels": labels, "labels_all": labels_all, "segments": segments,
    }
    if names and all(aset.videos[k].fps for k in names):
        arrays["original_fps"] = np.array([float(aset.videos[k].fps) for k in names], dtype=np.float64)
    files = {}
    for fname, arr in arrays.items():
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=arr.dtype == object)
        files[f"{fname}.npy"] = buf.getvalue()
    by_subset: dict[str, list[str]] = {}
    for name in names:
        v = aset.videos[name]
        if v.ambiguous:
            by_subset.setdefault(v.subset, []).extend(
                f"{name}  {format_time(a)} {format_time(b)}\n" for a, b in v.ambiguous)
    for subset, rows in by_subset.items():
        files[f"{AMBIGUOUS}_{subset}.txt"] = "".join(rows).encode("utf-8")
    stale = [f"{n}.npy" for n in ("labels_all", "duration", "original_fps", "extracted_fps")]
    if folder.is_dir():
        stale += [p.name for p in folder.glob(f"{AMBIGUOUS}_*.txt")]
    return write_file_set(folder, files, stale, force=force)


def _labels_all(v: VideoAnnotation) -> list[str]:
    """The file's own labels_all while the segment labels are unchanged since reading, else it
    plus the new segment labels (first-appearance order)."""
    kept = list(v.meta.get("labels_all", []))
    if "labels_all" in v.meta and v.meta.get("labels_all_segment_labels") == v.labels:
        return kept
    return list(dict.fromkeys(kept + [s.label for s in v.segments]))


def _bytes_array(values: list[str]) -> np.ndarray:
    enc = [v.encode("utf-8") for v in values]
    width = max((len(b) for b in enc), default=1) or 1
    return np.array(enc, dtype=f"S{width}")


# --- the bundle's feature file -----------------------------------------------------------------
FEATURES_SUFFIX = "-I3D-JOINTFeatures.npy"
ANNOTATIONS_SUFFIX = "-Annotations"


def load_bundle_features(path: str | Path) -> list[np.ndarray]:
    """`<Name>-I3D-JOINTFeatures.npy`: per video a [T, D] array (RGB columns first).

    The community file is an object array, read by the restricted unpickler (`safe_npy`); a
    plain [N, T, D] array also works. Each entry must be a numeric array.
    """
    path = Path(path)
    arr = load_npy(path, what="a W-TALC feature file")
    if arr.dtype != object and arr.ndim == 3:
        return [arr[i] for i in range(arr.shape[0])]
    if arr.dtype != object or arr.ndim != 1:
        raise fail(path, "", f"expected an object array of [T, D] features per video, got "
                             f"{arr.dtype} {arr.shape}")
    out = []
    for i, f in enumerate(arr):
        if not isinstance(f, np.ndarray) or f.dtype.kind not in "fiu":
            raise fail(path, f"video {i}", f"features are {type(f).__name__}"
                                           f"{' of ' + str(f.dtype) if isinstance(f, np.ndarray) else ''}"
                                           ", expected a numeric [T, D] array")
        out.append(f)
    return out


def write_bundle_features(path: str | Path, features: list[np.ndarray]) -> Path:
    """Write the object array of per-video [T, D] float32 features the community code reads."""
    path = Path(path)
    arr = np.empty(len(features), dtype=object)
    for i, f in enumerate(features):
        arr[i] = np.asarray(f, dtype=np.float32)
    with atomic_open(path, "wb") as fh:
        np.save(fh, arr, allow_pickle=True)
    return path
