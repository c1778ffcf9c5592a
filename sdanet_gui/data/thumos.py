"""THUMOS14 per-class text files: `<Class>_<subset>.txt`, one line `video start end` per instance.

Lines are split on any whitespace (the originals use two spaces and CRLF in places).
`Ambiguous_<subset>.txt` holds the ambiguous intervals (VideoAnnotation.ambiguous), which the
evaluation ignores. `detclasslist.txt` (`index Name` per line), when present, fixes the class
list. The subset comes from the file name; the abbreviation `val` (CMCS's file names) is read as
`validation`, the name the THUMOS14 videos and W-TALC use. A folder may hold the files itself or
in subfolders (e.g. `test/` and `val/`). Durations are unknown in this format (None).

A folder is written as one set (`export_folder`: never a mix of two exports, never a file of the
user's overwritten); a bad line raises UserError naming file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from .annotation_checks import (check_class_list, check_label, check_labels, fail, get_video,
                                make_interval, make_segment)
from .labels import is_ambiguous
from .export_folder import recover_for_reading, write_file_set
from .structures import AnnotationSet, VideoAnnotation

AMBIGUOUS = "Ambiguous"
CLASS_LIST_FILE = "detclasslist.txt"
SUBSET_ALIASES = {"val": "validation"}
_NAME = re.compile(r"^(?P<cls>.+)_(?P<subset>[^_]*)\.txt$")


def class_files(folder: Path) -> list[Path]:
    """The `<Class>_<subset>.txt` files in a folder (not recursive)."""
    return sorted(p for p in folder.glob("*.txt") if p.name != CLASS_LIST_FILE and _NAME.match(p.name))


def thumos_folders(folder: Path) -> list[Path]:
    """The folder itself and/or its direct subfolders that hold class files."""
    found = [folder] if class_files(folder) else []
    found += [d for d in sorted(folder.iterdir()) if d.is_dir() and class_files(d)]
    return found


def split_name(path: Path) -> tuple[str, str]:
    m = _NAME.match(path.name)
    if not m:
        return path.stem, ""
    subset = m.group("subset")
    return m.group("cls"), SUBSET_ALIASES.get(subset, subset)


def read_class_list(path: Path) -> list[str]:
    names = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise fail(path, f"line {no}", f"expected 'index ClassName', got {line.strip()!r}")
        names.append(line.split(None, 1)[1].strip())   # the name as written, inner spaces kept
    return check_class_list(names, path, CLASS_LIST_FILE)


def read_folder(folder: str | Path) -> AnnotationSet:
    folder = Path(folder)
    for d in [folder] + [d for d in folder.iterdir() if d.is_dir()]:
        recover_for_reading(d)   # an interrupted export is rolled back before reading
    dirs = thumos_folders(folder)
    if not dirs:
        raise fail(folder, "", "no THUMOS14 '<Class>_<subset>.txt' files found")
    videos: dict[str, VideoAnnotation] = {}
    fixed: list[str] | None = None
    fixed_from = None
    file_classes: list[str] = []
    entries: dict = {}
    for d in dirs:
        if (d / CLASS_LIST_FILE).is_file():
            names = read_class_list(d / CLASS_LIST_FILE)
            if fixed is None:
                fixed, fixed_from = names, d / CLASS_LIST_FILE
            elif fixed != names:
                raise fail(d / CLASS_LIST_FILE, "", f"class list differs from {fixed_from}")
        for f in class_files(d):
            cls, _ = split_name(f)
            if not is_ambiguous(cls) and cls not in file_classes:
                file_classes.append(cls)
            _read_file(f, videos, entries)
    aset = AnnotationSet(videos=videos, source=str(folder))
    if fixed is not None:
        check_labels(aset, fixed, folder, entries)
        aset.classes = list(fixed)
    else:
        aset.classes = sorted(file_classes)
    return aset


def read_file(path: str | Path) -> AnnotationSet:
    """One class file on its own (its class is the file's class)."""
    path = Path(path)
    videos: dict[str, VideoAnnotation] = {}
    _read_file(path, videos, {})
    cls, _ = split_name(path)
    classes = [] if is_ambiguous(cls) else [check_label(cls, path, "file name")]
    return AnnotationSet(videos=videos, classes=classes, source=str(path))


def _read_file(path: Path, videos: dict[str, VideoAnnotation], entries: dict) -> None:
    cls, subset = split_name(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(path, "", f"cannot read the file ({exc})") from None
    for no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        where = f"line {no}"
        if len(parts) != 3:
            raise fail(path, where, f"expected 'video start end', got {line.strip()!r}")
        video = get_video(videos, parts[0], subset, path, where)
        if is_ambiguous(cls):
            video.ambiguous.append(make_interval(parts[1], parts[2], path, where))
        else:
            seg = make_segment(cls, parts[1], parts[2], path, where)
            seg.where = entries[id(seg)] = f"{path.name} {where}"
            video.segments.append(seg)


def write_folder(aset: AnnotationSet, folder: str | Path, *, force: bool = False) -> Path:
    """One `<Class>_<subset>.txt` per class and subset (empty ones too), `Ambiguous_<subset>.txt`
    and `detclasslist.txt`, written as one set (`export_folder`): class files of an earlier export
    that this one does not write are removed; files this program did not write are neither
    overwritten nor removed without `force`. Times: `format_time`."""
    folder = Path(folder)
    classes = list(aset.classes) or aset.all_labels()
    for name, v in aset.videos.items():
        if not name or any(ch.isspace() for ch in name):
            raise fail(folder, f"video {name!r}", "a THUMOS14 file cannot hold a video name with spaces")
        if "_" in v.subset or "/" in v.subset or "\\" in v.subset:
            raise fail(folder, f"video {name!r}", f"subset {v.subset!r} cannot be part of a THUMOS14 "
                                                  "file name (<Class>_<subset>.txt)")
    for c in classes + [AMBIGUOUS]:
        if "/" in c or "\\" in c or not c:
            raise fail(folder, f"class {c!r}", "cannot be used as a THUMOS14 file name")
    check_labels(aset, classes, folder)
    subsets = sorted({v.subset for v in aset.videos.values()}) or [""]
    files: dict[str, bytes] = {}
    for subset in subsets:
        lines: dict[str, list[str]] = {c: [] for c in classes}
        amb: list[str] = []
        for name, v in aset.videos.items():
            if v.subset != subset:
                continue
            for s in v.segments:
                lines[s.label].append(f"{name} {format_time(s.start)} {format_time(s.end)}\n")
            amb += [f"{name} {format_time(a)} {format_time(b)}\n" for a, b in v.ambiguous]
        for c, rows in lines.items():
            files[f"{c}_{subset}.txt"] = "".join(rows).encode("utf-8")
        files[f"{AMBIGUOUS}_{subset}.txt"] = "".join(amb).encode("utf-8")
    files[CLASS_LIST_FILE] = "".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)).encode("utf-8")
    stale = [p.name for p in class_files(folder)] if folder.is_dir() else []
    return write_file_set(folder, files, stale, force=force)


def format_time(x: float) -> str:
    """Seconds as text like the THUMOS14 files: up to 6 decimals, at least one ("0.0", "49.25")."""
    s = f"{float(x) + 0.0:.6f}".rstrip("0")
    s = s + "0" if s.endswith(".") else s
    return "0.0" if s == "-0.0" else s
