"""The W-TALC annotation folder (`<Name>-Annotations/`) used by W-TALC, CO2-Net, DELU, DDG-Net.

Files: `videoname.npy` (N,) S-dtype, `subset.npy` (N,) S-dtype, `classlist.npy` (C,) S-dtype,
`duration.npy` (N, 1) float64, `labels.npy` / `segments.npy` (N,) object arrays of per-video
lists (label strings; [start_s, end_s] pairs, aligned with the labels), `labels_all.npy` (N,)
object array of the video-level label lists, optional `original_fps.npy` (N,) float64, and
`Ambiguous_test.txt` (THUMOS14 ambiguous intervals). Labels may come back as str or bytes.

SECURITY: the community format stores `labels`, `labels_all` and `segments` as pickled object
arrays, so this module is the ONE place in the program that calls `np.load(allow_pickle=True)`,
and only for those three files; every other file is read with `allow_pickle=False`. Open only
W-TALC folders you trust.

`labels_all` in the original THUMOS14 files is not always the set of segment labels (it comes
from the video-level label files); the reader keeps it in `VideoAnnotation.meta["labels_all"]`
and the writer writes it back unchanged while the video's segment labels are those read (exact
round trip), or adds the segment labels it lacks once they changed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from .annotation_checks import check_labels, fail, make_interval, make_segment, parse_time, remove_stale
from .structures import AnnotationSet, VideoAnnotation
from .thumos import AMBIGUOUS, format_time

log = logging.getLogger(__name__)

REQUIRED = ("videoname", "subset", "classlist", "labels", "segments")
PICKLED = ("labels", "labels_all", "segments")  # the only files loaded with allow_pickle=True


def is_wtalc_folder(folder: Path) -> bool:
    return folder.is_dir() and (folder / "videoname.npy").is_file() and (folder / "classlist.npy").is_file()


def _text(v) -> str:
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8")
    return str(v)


def _load(folder: Path, name: str):
    path = folder / f"{name}.npy"
    try:
        # allow_pickle only for the community object arrays (see the module docstring)
        return np.load(path, allow_pickle=name in PICKLED)
    except FileNotFoundError:
        raise fail(path, "", "file not found") from None
    except (OSError, ValueError, EOFError) as exc:
        raise fail(path, "", f"not a readable .npy file ({exc})") from None


def read_folder(folder: str | Path) -> AnnotationSet:
    folder = Path(folder)
    missing = [f"{n}.npy" for n in REQUIRED if not (folder / f"{n}.npy").is_file()]
    if missing:
        raise fail(folder, "", f"not a complete W-TALC annotation folder (missing {', '.join(missing)})")
    names = [_text(v) for v in _load(folder, "videoname").reshape(-1)]
    n = len(names)
    subsets = [_text(v) for v in _load(folder, "subset").reshape(-1)]
    classes = [_text(v) for v in _load(folder, "classlist").reshape(-1)]
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
            v.duration = parse_time(d[0], folder / "duration.npy", where, "duration") if d.size else None
        if fps is not None:
            v.fps = parse_time(fps[i], folder / "original_fps.npy", where, "fps")
        labs, segs = list(labels[i]), list(segments[i])
        if len(labs) != len(segs):
            raise fail(folder / "segments.npy", where, f"{len(segs)} segments but {len(labs)} labels")
        for j, (lab, seg) in enumerate(zip(labs, segs)):
            seg = list(np.asarray(seg, dtype=object).reshape(-1))
            at = f"{where}, segment {j}"
            if len(seg) != 2:
                raise fail(folder / "segments.npy", at, f"is {seg!r}, expected [start, end]")
            v.segments.append(make_segment(_text(lab), seg[0], seg[1], folder / "segments.npy", at))
        if labels_all is not None:
            v.meta["labels_all"] = [_text(x) for x in list(labels_all[i])]
            v.meta["labels_all_segment_labels"] = v.labels
        videos[name] = v
    for amb in sorted(folder.glob(f"{AMBIGUOUS}_*.txt")):
        _read_ambiguous(amb, videos)
    aset = AnnotationSet(videos=videos, classes=classes, source=str(folder))
    check_labels(aset, classes, folder / "labels.npy")
    return aset


def _read_ambiguous(path: Path, videos: dict[str, VideoAnnotation]) -> None:
    unknown = set()
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise fail(path, f"line {no}", f"expected 'video start end', got {line.strip()!r}")
        if parts[0] not in videos:
            unknown.add(parts[0])
            continue
        videos[parts[0]].ambiguous.append(make_interval(parts[1], parts[2], path, f"line {no}"))
    if unknown:
        log.info("%s: ignored ambiguous intervals of %d video(s) not in videoname.npy", path, len(unknown))


def write_folder(aset: AnnotationSet, folder: str | Path) -> Path:
    """Write the folder with the original files' dtypes; every video needs a duration.
    Optional files of an earlier export that this one does not rewrite (original_fps.npy when a
    frame rate is unknown, extracted_fps.npy, Ambiguous_<subset>.txt) are removed."""
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
    for fname, arr in arrays.items():
        with atomic_open(folder / f"{fname}.npy", "wb") as fh:
            np.save(fh, arr, allow_pickle=arr.dtype == object)
    by_subset: dict[str, list[str]] = {}
    for name in names:
        v = aset.videos[name]
        if v.ambiguous:
            by_subset.setdefault(v.subset, []).extend(
                f"{name}  {format_time(a)} {format_time(b)}\n" for a, b in v.ambiguous)
    written = {folder / f"{fname}.npy" for fname in arrays}
    for subset, rows in by_subset.items():
        written.add(folder / f"{AMBIGUOUS}_{subset}.txt")
        with atomic_open(folder / f"{AMBIGUOUS}_{subset}.txt", "w") as fh:
            fh.write("".join(rows))
    stale = [folder / f"{n}.npy" for n in ("labels_all", "duration", "original_fps", "extracted_fps")]
    remove_stale(folder, stale + sorted(folder.glob(f"{AMBIGUOUS}_*.txt")), written)
    return folder


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

    The community file is an object array, so it is unpickled (allow_pickle=True) - the second
    and last place that does so, for the same W-TALC format; a plain [N, T, D] array also works.
    """
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=True, mmap_mode=None)
    except FileNotFoundError:
        raise fail(path, "", "file not found") from None
    except (OSError, ValueError, EOFError) as exc:
        raise fail(path, "", f"not a readable .npy file ({exc})") from None
    if arr.dtype != object and arr.ndim == 3:
        return [arr[i] for i in range(arr.shape[0])]
    if arr.dtype != object or arr.ndim != 1:
        raise fail(path, "", f"expected an object array of [T, D] features per video, got "
                             f"{arr.dtype} {arr.shape}")
    return list(arr)


def write_bundle_features(path: str | Path, features: list[np.ndarray]) -> Path:
    """Write the object array of per-video [T, D] float32 features the community code reads."""
    path = Path(path)
    arr = np.empty(len(features), dtype=object)
    for i, f in enumerate(features):
        arr[i] = np.asarray(f, dtype=np.float32)
    with atomic_open(path, "wb") as fh:
        np.save(fh, arr, allow_pickle=True)
    return path
