"""Opening feature files (dropped, File > Open…, `sdanet-gui FILE.h5`): each per-video feature
file becomes the features of the project video it names, so Model > Load checkpoint… can score
that video without extracting anything.

Why its own module: a dropped `.h5` used to be handed to the annotation importer, which cannot
read it. Feature files are recognised by suffix (or a folder holding them) and attached through
`project.exchange.attach_feature_file`; a video named by a feature file but not in the project
yet is added by name (the user can Locate… its file, or drop it: the window then attaches the
file to that entry instead of adding a second one).

Never reads the features themselves (only the file's attributes) and never scores.
"""

from __future__ import annotations

from pathlib import Path

FEATURE_SUFFIXES = (".h5", ".hdf5")


def is_feature_path(path) -> bool:
    """A feature file, or a folder whose own files include feature files."""
    p = Path(path)
    if p.is_dir():
        return any(f.is_file() and f.suffix.lower() in FEATURE_SUFFIXES for f in p.iterdir())
    return p.suffix.lower() in FEATURE_SUFFIXES


def attach_features(window, path) -> list[str]:
    """Attach the feature file(s) at `path` to the window's project (a new one if none). Returns
    the problems (messages naming the file), [] when everything was attached."""
    from ..errors import UserError
    from ..project.exchange import attach_feature_file

    p = Path(path)
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in FEATURE_SUFFIXES) if p.is_dir() else [p]
    project = window._ensure_project(default_class=False)
    names, added, problems = [], 0, []
    for f in files:
        try:
            rec, new = attach_feature_file(project, f)
        except UserError as exc:
            problems.append(str(exc))
            continue
        names.append(rec.name)
        added += new
    if names:
        window.video_list.set_project(project, window.current_video_id)
        text = f"Features attached to {', '.join(names[:3])}{' …' if len(names) > 3 else ''}"
        if added:
            text += f" ({added} new video entr{'y' if added == 1 else 'ies'}: drop or Locate… the video file)"
        window.statusBar().showMessage(text + "; Model > Load checkpoint… scores them")
    return problems
