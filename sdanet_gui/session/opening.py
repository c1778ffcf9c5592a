"""What a dropped or opened path is: a project folder, videos (folders searched recursively),
feature files, or something else (annotation files and folders of them).

Why here: the window's drop target, File > Open… and `sdanet-gui PATH ...` all decide the same
way, and the decision needs no Qt. Only names and suffixes are looked at (and whether a folder
holds a project or videos); no file is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..media import VIDEO_EXTENSIONS

FEATURE_SUFFIXES = (".h5", ".hdf5")
PROJECT_MARKER = "project.sqlite"


@dataclass
class Dropped:
    """Paths sorted by what they are."""

    projects: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    features: list[Path] = field(default_factory=list)   # feature files (folders: their files)
    other: list[Path] = field(default_factory=list)      # annotation files and folders
    missing: list[Path] = field(default_factory=list)


def is_feature_path(path) -> bool:
    """A feature file, or a folder whose own files include feature files."""
    p = Path(path)
    if p.is_dir():
        return any(f.is_file() and f.suffix.lower() in FEATURE_SUFFIXES for f in p.iterdir())
    return p.suffix.lower() in FEATURE_SUFFIXES


def feature_files_in(path) -> list[Path]:
    """The feature files a feature path stands for (a folder: its own feature files)."""
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in FEATURE_SUFFIXES)
    return [p]


def classify_paths(paths) -> Dropped:
    """Project folders, videos (folders searched recursively, video extensions only), feature
    files, the rest (files, and folders without videos or feature files)."""
    out = Dropped()
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            out.missing.append(p)
        elif p.is_dir() and (p / PROJECT_MARKER).is_file():
            out.projects.append(p)
        elif p.is_dir():
            videos = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS)
            if videos:
                out.videos.extend(videos)
            elif is_feature_path(p):
                out.features.append(p)
            else:  # no videos: a folder of annotation files (THUMOS, ELAN, W-TALC)
                out.other.append(p)
        elif p.suffix.lower() in VIDEO_EXTENSIONS:
            out.videos.append(p)
        elif is_feature_path(p):
            out.features.append(p)
        else:
            out.other.append(p)
    return out
