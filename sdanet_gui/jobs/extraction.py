"""Feature extraction for a project's videos off the owner's thread, and which extractor a
checkpoint needs.

Why it exists: a video dropped on the window is useless to SDANet until it has features, and the
features must be the kind the checkpoint was trained on. The checkpoint's feature spec decides
the extractor (`extractor_for_spec`): 256-d appearance+motion = `tiny`, 2048-d RGB+flow = `i3d`;
anything else is a clear error, as is i3d without its weight files (the message of
`media.i3d.resolve_weights_dir`, naming the files and the folder).

`ExtractionRun(post, callbacks)` runs one extraction at a time as a `background.Worker` task: it
reads the checkpoint's metadata (torch is imported there, never in the owner's thread), builds
the extractor once and runs `media.extract.extract_features` per video. It never touches the
project store: each written file is reported with `on_extracted(video_id, path)` on the owner's
thread, which records it as the video's `feature_ref` (`feature_ref_for`). `cancel()` sets the
event the extractor polls between snippets; a cancelled video leaves no file (files are written
atomically), videos finished before the cancel keep theirs.

Files go to `<project>/features/<extractor>/<video file stem>.h5` (a second video with the same
file stem gets `.../v<video id>/`). Never imports Qt.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .background import Post, TaskContext, Worker

log = logging.getLogger(__name__)

FEATURES_FOLDER = "features"
PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress reports a second reach the owner

# extractor name -> (feature dims per modality, short description for the user)
EXTRACTOR_DIMS = {"tiny": (128, 128), "i3d": (1024, 1024)}
EXTRACTOR_LABELS = {
    "i3d": "I3D (2048-d RGB + flow, needs the pytorch-i3d weight files)",
    "tiny": "tiny (256-d, built-in demo extractor, no weights)",
}


@dataclass(frozen=True)
class ExtractionJob:
    """One video to extract: the project's id and name, its file, and the folder to write in."""

    video_id: int
    name: str
    video_path: Path
    out_dir: Path


def extractor_for_spec(spec, checkpoint=None) -> str:
    """The extractor ("tiny" | "i3d") whose output has the checkpoint's feature spec; UserError if none.

    Dims decide (per modality, e.g. [1024, 1024] = i3d); the snippet grid (fps, snippet and
    stride frames) must match too, or the features would not line up with the model's snippets.
    """
    from ..errors import UserError
    from ..media.i3d import I3DExtractor
    from ..media.tiny_extractor import TinyExtractor

    dims = tuple(d for _, d in spec.modalities)
    where = f"{checkpoint}: " if checkpoint else ""
    for name, ext_spec in (("tiny", TinyExtractor.spec), ("i3d", I3DExtractor.spec)):
        if dims == EXTRACTOR_DIMS[name]:
            grid = (float(spec.fps), spec.snippet_frames, spec.stride_frames)
            want = (float(ext_spec.fps), ext_spec.snippet_frames, ext_spec.stride_frames)
            if grid != want:
                raise UserError(
                    f"{where}the model was trained on {name} features of {spec.snippet_frames}-frame "
                    f"snippets every {spec.stride_frames} frames at {spec.fps:g} fps, but the {name} "
                    f"extractor makes {want[1]}-frame snippets every {want[2]} frames at {want[0]:g} fps; "
                    f"extract such features yourself and import them")
            return name
    described = " + ".join(f"{m} {d}" for m, d in spec.modalities)
    raise UserError(
        f"{where}the model expects {spec.feature_dim}-d features ({described}); this program can "
        f"extract 2048-d I3D features (rgb 1024 + flow 1024) or 256-d tiny features (appearance 128 "
        f"+ motion 128) only. Extract matching features with the tool the model was trained with "
        f"and import them")


def videos_without_features(project) -> list:
    """The project's located videos whose file exists and that have no readable feature file."""
    out = []
    for v in project.videos():
        path = project.video_path(v.id)
        if path is None or not Path(path).is_file():
            continue
        ref = project.feature_file(v)
        if ref is None or not ref.is_file():
            out.append(v)
    return out


def plan_jobs(project, videos, extractor: str) -> list[ExtractionJob]:
    """Where each video's features go (see the module docstring for the layout)."""
    base = Path(project.folder) / FEATURES_FOLDER / extractor
    jobs, stems = [], set()
    for v in videos:
        path = Path(project.video_path(v.id))
        out_dir = base if path.stem not in stems else base / f"v{v.id}"
        stems.add(path.stem)
        jobs.append(ExtractionJob(v.id, v.name, path, out_dir))
    return jobs


def feature_ref_for(project, path: Path) -> str:
    """The feature_ref to store: relative to the project folder when inside it (movable projects)."""
    try:
        return Path(path).resolve().relative_to(Path(project.folder).resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())


class ExtractionRun:
    """One extraction at a time (see the module docstring). Callbacks, on the owner's thread:
      on_extractor(name)                             the extractor chosen
      on_progress(video_index, video_count, name, snippets_done, snippets_total)
      on_extracted(video_id, feature_file_path)      one video done (file written, or a cache hit)
      on_video_failed(name, message)                 one video could not be extracted; the others go on
      on_failed(message)                             nothing can be extracted (checkpoint, weights)
      on_finished(cancelled)                         always last
    """

    def __init__(self, post: Post, *, on_extractor: Callable = None, on_progress: Callable = None,
                 on_extracted: Callable = None, on_video_failed: Callable = None,
                 on_failed: Callable = None, on_finished: Callable = None):
        nothing = lambda *args: None  # noqa: E731
        self.on_extractor = on_extractor or nothing
        self.on_progress = on_progress or nothing
        self.on_extracted = on_extracted or nothing
        self.on_video_failed = on_video_failed or nothing
        self.on_failed = on_failed or nothing
        self.on_finished = on_finished or nothing
        self._worker = Worker(post, "sdanet-extraction")
        self._task = None
        self._cancelled = False

    def busy(self) -> bool:
        return self._worker.busy()

    def start(self, jobs_for: Callable[[str], list], *, checkpoint=None, extractor: str | None = None) -> None:
        """`jobs_for(extractor_name) -> [ExtractionJob]` is computed by the owner before the
        start for both extractors (a plain function of paths), so the task never asks the project."""
        if checkpoint is None and extractor is None:
            raise ValueError("give a checkpoint or an extractor name")
        checkpoint = Path(checkpoint) if checkpoint is not None else None
        self._cancelled = False
        self._task = self._worker.submit(
            lambda ctx: self._run(ctx, jobs_for, checkpoint, extractor),
            on_error=lambda exc: self.on_failed(f"feature extraction failed ({type(exc).__name__}: {exc})"),
            on_finished=lambda: self.on_finished(self._cancelled))

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def cancelling(self) -> bool:
        return self._task is not None and self._task.cancelled() and not self._task.done()

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Cancel and wait for the task (the owner is closing)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            task.wait(timeout_s)
        self._worker.shutdown(0.5)

    def _run(self, ctx: TaskContext, jobs_for, checkpoint, name) -> None:
        from ..errors import Cancelled, UserError

        try:
            self._cancelled = self._extract(ctx, jobs_for, checkpoint, name)
        except Cancelled:
            self._cancelled = True
        except UserError as exc:
            ctx.send(self.on_failed, str(exc))

    def _extract(self, ctx: TaskContext, jobs_for, checkpoint, name) -> bool:
        from ..errors import Cancelled, UserError
        from ..media.extract import extract_features, make_extractor
        from ..torch_import import import_torch

        if name is None:
            from ..sdanet.checkpoint import load_checkpoint

            import_torch()  # loads without freezing the UI (torch_import)
            _, meta = load_checkpoint(checkpoint)
            name = extractor_for_spec(meta.feature_spec, checkpoint)
        if name == "i3d":
            from ..media.i3d import resolve_weights_dir

            resolve_weights_dir()  # the precise "which files, where" message before importing torch
            import_torch()
        jobs = jobs_for(name)
        ctx.send(self.on_extractor, name)
        extractor = make_extractor(name)
        for i, job in enumerate(jobs):
            if ctx.cancelled():
                return True
            last = [0.0]

            def progress(done, total, i=i, job=job, last=last):
                now = time.monotonic()
                if done >= total or now - last[0] >= PROGRESS_INTERVAL_S:
                    last[0] = now
                    ctx.send(self.on_progress, i, len(jobs), job.name, int(done), int(total))

            ctx.send(self.on_progress, i, len(jobs), job.name, 0, 0)
            try:
                out = extract_features(job.video_path, job.out_dir, extractor=extractor,
                                       progress=progress, cancel=ctx.cancel_event)
            except Cancelled:
                return True
            except UserError as exc:
                ctx.send(self.on_video_failed, job.name, str(exc))
                continue
            ctx.send(self.on_extracted, job.video_id, str(out))
        return False
