"""What a review session is, without Qt: the open project, the active and previous model
versions, the scores of the active version, the post-processing that turns them into predicted
segments, the scoring and fine-tuning runs, and the summary of what the last version switch
changed. The window (and `sdanet finetune --project`) drive it through its methods and observe
it through `events`; they hold none of this state themselves.

Model versions: the ACTIVE version (project setting, `Project.active_model_version`) is the one
whose predictions are stored, shown and whose scores are held here; the version active before
it is kept as "previous" (the window's "Show previous model's predictions"). Scores are cached
per version (project/score_cache.py), so reopening a project or rolling back never needs the
network; only videos without cached scores are scored (jobs/scoring.py, in a child process).

Threads: every method must be called on the owner's thread (the window's UI thread), which owns
the project's SQLite connection; background runs report back through the `post` the owner
gives (see jobs/background.py), and every event is emitted on that thread.

Events (plain callbacks, events.Event):
  project_closing(project)          the open project is about to be closed: save what belongs to it
  project_changed(project)          another project is open (or None)
  videos_changed()                  videos were added, located, or got features or segments
  versions_changed()                the active / previous version or the change summary changed
  predictions_changed(video name)   a video's scores and predictions arrived (None: all videos,
                                    after a version switch)
  postprocess_defaults(params)      the checkpoint's post-processing, for a panel to show until
                                    the user changes it
  scoring_started(names)            a scoring run began for these videos
  scoring_progress(done, total)
  scoring_finished()                a scoring run ended (its results were all handled)
  features_needed()                 an opened video has no features while a model version with a
                                    checkpoint is active: the owner extracts them (without
                                    asking), then calls `score_missing()`
  model_lacks_classes(names)        the checkpoint just loaded does not know these classes the
                                    project's reviewed segments use (fine-tuning grows them in;
                                    a model of the project's own is the other way)
  status(text, timeout_ms)          one line for a status bar
  problem(title, message)           a failure the user must see (a dialog in the window)
The fine-tuning run has its own events (`finetune.events`, finetuning.py).

What it must never do: import Qt, touch a human segment (predictions only), or block on a run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import UserError
from .events import Events
from .finetuning import Finetuning

if TYPE_CHECKING:
    from ..jobs.scoring import VideoResult
    from ..project.store import ModelVersion, Project

log = logging.getLogger(__name__)

DEFAULT_CLASS = "action"          # the lane a new project draws segments in
UNTITLED = "Untitled"             # name of the projects made for videos opened without one
UNTITLED_LOOKUP = 50              # how many of the newest untitled projects are searched
POSTPROCESS_KEY = "postprocess"   # project setting: the user's PostProcessing (a dict)
PREVIOUS_MODEL_KEY = "previous_model_version"  # project setting: the version before the active one
NO_FEATURES_TEXT = ("None of the project's videos has a feature file yet. Extract features first "
                    "(Model > Extract features…, or sdanet extract VIDEO... --out FOLDER, then "
                    "import them), or open the demo (sdanet-gui --demo).")


class ReviewSession:
    def __init__(self, post: Callable[[Callable[[], None]], None], *, scoring: bool = True):
        """`post(fn)` runs fn on the owner's thread (jobs/background.py). `scoring=False`: a
        session that never starts a scoring run (the command line: adopting a version does not
        re-score; cached scores are still used)."""
        self.post = post
        self.events = Events("project_closing", "project_changed", "videos_changed", "versions_changed",
                             "predictions_changed", "postprocess_defaults", "scoring_started",
                             "scoring_progress", "scoring_finished", "features_needed",
                             "model_lacks_classes", "status", "problem")
        self.project: Project | None = None
        self.active: ModelVersion | None = None     # the version whose scores are held
        self.previous: ModelVersion | None = None   # the version active before it
        self.change_summary = None                  # versions.ChangeSummary of the last switch
        self.scoring_runs = 0                       # network scoring runs started (cached scores need none)
        self.finetune = Finetuning(self)
        self._scoring_enabled = scoring
        self._scoring = None              # jobs.scoring.ScoringRunner, made on first use
        self._scores: dict[str, VideoResult] = {}   # video name -> result of the active version
        self._applied: set[str] = set()   # names whose predictions under the active version are stored
        self._score_features: dict[str, Path] = {}  # name -> feature file of the running scoring
        self._pending_change = None       # (previous, new, names, previous before) until scoring ends
        self._scoring_error = False       # the running scoring reported a failure
        self._discard_results = False     # results of a cancelled run still queued: ignore them
        self._queued_adopt = None         # a version to adopt once the cancelled run has ended
        self._runs_open = 0               # started runs whose end has not been handled yet
        self._checkpoint_postprocess = None  # the active checkpoint's PostProcessing, once seen
        self._classes_to_check = None     # (version id, classes used) after load_checkpoint

    # --- the project --------------------------------------------------------------------------
    def set_project(self, project: "Project | None", *, load_scores: bool = True) -> None:
        """Make `project` the session's (the previous one is closed); its active version's
        scores come from the cache (no network; `load_scores=False`: not now, e.g. a command
        that only trains)."""
        if self.project is not None and self.project is not project:
            self.events.project_closing.emit(self.project)
            self.project.close()
        self.project = project
        self.events.project_changed.emit(project)
        if project is None:
            return
        self._checkpoint_postprocess = None
        self.events.postprocess_defaults.emit(self.postprocess_params())  # not the last project's
        self._restore_model_versions(load_scores)

    def open_project(self, folder) -> "Project":
        """Open the project folder (UserError naming it when it cannot be opened)."""
        from ..project.store import Project

        project = Project.open(folder)
        self.set_project(project)
        return project

    def ensure_project(self, default_class: bool = True) -> "Project":
        """The open project, or a new "Untitled <time>" one in the user's projects folder; with
        `default_class`, a project without classes gets one lane to draw segments in."""
        if self.project is None:
            from ..paths import app_paths
            from ..project.store import Project

            folder = fresh_folder(app_paths().default_projects,
                                  datetime.now().strftime(f"{UNTITLED} %Y-%m-%d %H%M%S"))
            self.set_project(Project.create(folder))
            empty = len(self.empty_untitled_projects())
            self.events.status.emit(f"New project created in {folder}" + (
                f"; {empty} empty untitled projects can go (File > Clean up empty projects…)"
                if empty > 1 else ""), 0)
            log.info("new project created in %s", folder)
        if default_class and not self.project.classes():
            self.project.add_classes([DEFAULT_CLASS])
        return self.project

    def reuse_untitled_project(self, videos) -> bool:
        """With no project open: open the newest "Untitled" project that already holds one of
        `videos` (launching the program on the same video twice must not make two projects).
        False when there is none (a new one is made when the first video arrives)."""
        from ..project.store import Project

        folder = self._untitled_with(videos) if self.project is None else None
        if folder is None:
            return False
        self.set_project(Project.open(folder))
        self.events.status.emit(f"Opened {folder.name}, which already holds this video", 0)
        log.info("reusing %s for %s", folder, ", ".join(map(str, videos)))
        return True

    @staticmethod
    def untitled_projects() -> list[Path]:
        """The program's own "Untitled …" projects in the user's projects folder, newest first."""
        from ..paths import app_paths
        from .opening import PROJECT_MARKER

        root = app_paths().default_projects
        found = [p for p in root.glob(f"{UNTITLED} *") if (p / PROJECT_MARKER).is_file()] if root.is_dir() else []
        return sorted(found, key=lambda p: p.name, reverse=True)

    def _untitled_with(self, videos) -> Path | None:
        """The newest untitled project holding one of `videos` (same file), or None."""
        from ..project.store import Project

        wanted = {Path(v).resolve() for v in videos}
        for folder in self.untitled_projects()[:UNTITLED_LOOKUP] if wanted else []:
            try:
                with Project.open(folder, read_only=True) as p:
                    paths = {p.video_path(v.id) for v in p.videos()}
            except UserError:
                continue   # open elsewhere, or damaged: not this one
            if any(q is not None and Path(q).resolve() in wanted for q in paths):
                return folder
        return None

    def empty_untitled_projects(self) -> list[Path]:
        """Untitled projects with no video, no segment and no model: safe to remove."""
        from ..project.store import Project

        out = []
        for folder in self.untitled_projects():
            if self.project is not None and Path(self.project.folder).resolve() == folder.resolve():
                continue
            try:
                with Project.open(folder, read_only=True) as p:
                    if not p.videos() and not p.segments() and not p.model_versions():
                        out.append(folder)
            except UserError:
                continue
        return out

    def remove_empty_projects(self, folders) -> list[Path]:
        """Delete those of `folders` that are still empty untitled projects; returns them."""
        import shutil

        empty = {f.resolve() for f in self.empty_untitled_projects()}
        removed = []
        for folder in folders:
            if Path(folder).resolve() in empty:
                shutil.rmtree(folder)
                removed.append(Path(folder))
        return removed

    def close(self) -> None:
        """End the runs and close the project (the window closing)."""
        self.finetune.shutdown()
        if self._scoring is not None:
            self._scoring.shutdown()   # the scoring child ends with the session
        if self.project is not None:
            self.events.project_closing.emit(self.project)
            self.project.close()
            self.project = None

    def open_demo(self) -> list[Path]:
        """A ready review: the bundled demo videos in a new project, scored by the demo model.
        Returns the videos to open (the owner opens them); UserError when the demo is missing."""
        import json

        from ..bundled import model_files, resource_files
        from ..paths import app_paths
        from ..project.store import Project

        demo = Path(str(resource_files() / "demo"))
        checkpoint = Path(str(model_files() / "demo.pt"))
        videos = sorted((demo / "videos").glob("*.mp4"))
        if not videos or not checkpoint.is_file():
            raise UserError(f"{demo}: the demo videos or {checkpoint.name} are missing", path=demo)
        classes = json.loads((demo / "annotations.json").read_text()).get("class_list", [])
        folder = fresh_folder(app_paths().default_projects, datetime.now().strftime("Demo %Y-%m-%d %H%M%S"))
        project = Project.create(folder)
        project.add_classes(classes)
        self.set_project(project)
        features = {v.stem: demo / "features" / f"{v.stem}.h5" for v in videos}
        mv = project.add_model_version(checkpoint.stem, checkpoint=checkpoint)
        self._make_active(mv, None)  # its scores are cached: reopening the demo needs no network
        self.score(checkpoint, features, model_version=mv)
        self.events.status.emit(f"Demo project in {folder}: scoring {len(videos)} videos with the demo "
                                f"model (4 made-up classes of generated shapes, not for real videos)…", 0)
        return videos

    # --- videos, annotations, features ---------------------------------------------------------
    def register_video(self, path, reader, fingerprint: str) -> int:
        """The project's id for an opened video file (a new project if none): an existing entry
        with the same path, an entry of that name that has no file yet (it came from an
        annotation or a feature file: it gets this file and its decoder clock), or a new entry.
        Scores that arrived for it before it was registered are applied now."""
        project = self.ensure_project()
        path = Path(path)
        vid = self._existing_entry(project, path, reader, fingerprint)
        if vid is None:
            name, n = path.stem, 2
            while project.find_video(name) is not None:
                name, n = f"{path.stem} ({n})", n + 1
            clock = reader.clock
            vid = project.add_video(name, path=path, fingerprint=fingerprint, fps=reader.average_fps,
                                    frame_count=reader.frame_count, timestamps=clock.timestamps,
                                    duration=clock.duration).id
        self.events.videos_changed.emit()
        self._apply_scores(project.video(vid).name)
        self._score_new(project.video(vid))
        return vid

    @staticmethod
    def _existing_entry(project, path: Path, reader, fingerprint: str) -> int | None:
        for v in project.videos():
            p = project.video_path(v.id)
            if p is not None and Path(p).resolve() == path.resolve():
                return v.id
        rec = project.find_video(path.stem)
        if rec is None or rec.located:
            return None
        clock = reader.clock
        project.locate_video(rec.id, path, fps=reader.average_fps, frame_count=reader.frame_count,
                             duration=clock.duration, timestamps=clock.timestamps, fingerprint=fingerprint)
        return rec.id

    def import_annotations(self, path):
        """Import an annotation file into the open project (a new one if none); its ImportReport.
        UserError (naming the file) when it cannot be read."""
        from ..project.exchange import import_annotations

        report = import_annotations(self.ensure_project(default_class=False), path)
        log.info("%s", report.summary())
        self.events.videos_changed.emit()
        return report

    def attach_features(self, files) -> tuple[list[str], int, list[str]]:
        """Attach per-video feature files to the project (a new one if none): each becomes the
        features of the video it names, added by name when the project lacks it. Returns (names
        attached, new video entries, problems: one message per file that could not be used)."""
        from ..project.exchange import attach_feature_file

        project = self.ensure_project(default_class=False)
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
            self.events.videos_changed.emit()
            self.score_missing()
        return names, added, problems

    def locate_video(self, video_id: int, probe):
        """Give a video its (moved, renamed) file: `probe` is `project.exchange.probe_for_project`'s
        result; the video's frames are carried over by time (Project.locate_video)."""
        rec = self.project.locate_video(video_id, probe.path, fps=probe.fps, frame_count=probe.frame_count,
                                        duration=probe.duration, timestamps=probe.timestamps,
                                        fingerprint=probe.fingerprint)
        log.info("located %s at %s", rec.name, probe.path)
        self.events.videos_changed.emit()
        return rec

    # --- scores of the active version ------------------------------------------------------------
    def result(self, name: str) -> "VideoResult | None":
        """The active version's scores of video `name`, once its predictions are stored."""
        return self._scores.get(name) if name in self._applied else None

    def scored_videos(self) -> list[str]:
        """Names of the videos whose active-version scores are held and predictions stored."""
        return sorted(self._applied)

    def scoring_videos(self) -> list[str]:
        """Names of the videos the latest scoring run was asked to score."""
        return sorted(self._score_features)

    def scoring_busy(self) -> bool:
        return self._scoring is not None and self._scoring.busy()

    def scoring_pending(self) -> bool:
        """A scoring run is going on or its last results are still on their way."""
        return self._runs_open > 0

    @property
    def scoring_pid(self) -> int | None:
        """The scoring child's process id (None before the first run)."""
        return self._scoring.pid if self._scoring is not None else None

    def score(self, checkpoint, features: dict, model_version=None) -> bool:
        """Score the videos {name: feature file} with `checkpoint` in the background. Their
        predictions are stored under `model_version` (None: a new version named after the
        checkpoint, made active on the first result) and their scores cached. False when a
        scoring run is already going on (or this session does not score)."""
        if not self._scoring_enabled:
            return False
        if self._scoring is None:
            from ..jobs.scoring import ScoringRunner

            self._scoring = ScoringRunner(
                self.post, on_result=self._scored, on_failed=self._scoring_failed,
                on_progress=self._scoring_progress, on_finished=self._scoring_finished)
        if self._scoring.busy():
            self.events.status.emit("Scoring is already running", 0)
            return False
        same = (model_version is not None and self.active is not None
                and model_version.id == self.active.id)
        if not same:  # other version: its scores replace what is kept
            self._scores, self._applied = {}, set()
        for name in features:
            self._scores.pop(name, None)
            self._applied.discard(name)
        self.active = model_version
        self._score_features = {name: Path(p) for name, p in features.items()}
        self._scoring_error = False
        self.scoring_runs += 1
        self._runs_open += 1
        self._scoring.start(checkpoint, features)
        self.events.scoring_started.emit(sorted(features))
        return True

    def usable_checkpoint(self) -> Path | None:
        """The active version's checkpoint file when it exists (what can score new videos)."""
        if self.project is None or self.active is None:
            return None
        checkpoint = self.project.model_checkpoint(self.active)
        return checkpoint if checkpoint is not None and checkpoint.is_file() else None

    def score_missing(self) -> bool:
        """Score, with the active version, the videos that have features but no scores of it
        yet (new videos, or videos whose features just arrived), in the background without
        asking. False when there is nothing to score, no usable checkpoint, or a run is going
        on (its end does not pick them up: call again)."""
        checkpoint = self.usable_checkpoint()
        if checkpoint is None or not self._scoring_enabled or self.scoring_busy():
            return False
        missing = {name: path for name, path in self.project.feature_files().items()
                   if name not in self._applied}
        if not missing:
            return False
        had = set(self._applied)
        missing = self._load_cached_scores(self.active, missing)
        for name in sorted(self._applied - had):
            self.events.predictions_changed.emit(name)
        if not missing:
            return False
        self.events.status.emit(f"Scoring {len(missing)} new video(s) with '{self.active.name}'…", 0)
        return self.score(checkpoint, missing, model_version=self.active)

    def _score_new(self, rec) -> None:
        """A video was opened: with a usable active version it gets scores without asking, after
        its features are extracted when it has none (the owner does that: `features_needed`)."""
        if self.usable_checkpoint() is None or rec.name in self._applied:
            return
        if self.scoring_pending() and rec.name in self._score_features:
            return   # its scores are on their way (e.g. the demo: scored before it was opened)
        features = self.project.feature_file(rec)
        if features is None or not features.is_file():
            self.events.features_needed.emit()
        else:
            self.score_missing()

    def load_checkpoint(self, path) -> "ModelVersion":
        """A new model version for the checkpoint file, made active; the project's videos with
        features are scored with it in the background. UserError when no video has features."""
        project = self.ensure_project(default_class=False)
        if not project.feature_files():
            raise UserError(f"{project.folder}: {NO_FEATURES_TEXT}", path=project.folder)
        used = {s.label for s in project.segments()}   # before the model's classes join
        mv = project.add_model_version(Path(path).stem, checkpoint=path)
        self._classes_to_check = (mv.id, used)
        self.adopt(mv)
        return mv

    def _check_classes(self, result: "VideoResult") -> None:
        """After a checkpoint was loaded, its first scores tell its classes: say
        (`model_lacks_classes`) which classes of the project's segments it does not know."""
        pending, self._classes_to_check = self._classes_to_check, None
        if pending is None or self.active is None or pending[0] != self.active.id:
            return
        lacking = [c for c in self.project.classes() if c in pending[1] and c not in set(result.classes)]
        if lacking:
            self.events.model_lacks_classes.emit(lacking)

    def adopt(self, mv: "ModelVersion") -> None:
        """Make `mv` active: its predictions are shown (human segments are never touched). The
        videos with features get its scores from the cache, the others are scored in the
        background with its checkpoint and their predictions stored under `mv`; the version
        active before becomes "previous". When scoring ends, the change summary (per video:
        predicted segments added / removed / changed) goes to `change_summary`, the status line
        and the log."""
        project = self.project
        if project is None:
            return
        mv = project.model_version(mv.id)
        if self.scoring_busy():  # switch once the running run has stopped
            self._scoring.cancel()
            self._discard_results, self._queued_adopt = True, mv
            self.events.status.emit(f"Switching to model '{mv.name}' when the running scoring stops…", 0)
            return
        current = project.active_model_version()
        previous = current if current is not None and current.id != mv.id else self.previous
        previous_before = self.previous
        self._make_active(mv, previous)
        self._scores, self._applied = {}, set()
        features = project.feature_files()
        misses = self._load_cached_scores(mv, features)
        self._pending_change = (self.previous, mv, sorted(features), previous_before)
        self.events.predictions_changed.emit(None)
        if misses and self._scoring_enabled:
            checkpoint = project.model_checkpoint(mv)
            if checkpoint is not None and checkpoint.is_file():
                self.score(checkpoint, misses, model_version=mv)
                self.events.status.emit(f"Model '{mv.name}' active: scoring {len(misses)} video(s)…", 0)
                return
            log.warning("%s: checkpoint of model '%s' missing; %d video(s) without cached scores "
                        "not re-scored", project.folder, mv.name, len(misses))
        self._report_changes()

    def _make_active(self, mv, previous) -> None:
        """`mv` becomes the project's active version; `previous` (if another) the previous."""
        self.project.set_active_model_version(mv.id)
        self.active = mv
        if previous is not None and previous.id != mv.id:
            self.previous = previous
            self.project.set_setting(PREVIOUS_MODEL_KEY, previous.id)
        self.events.versions_changed.emit()

    def _restore_model_versions(self, load_scores: bool = True) -> None:
        """A project was set: its active version's scores come from the cache (no network)."""
        if self.scoring_busy():  # a run for the last project
            self._scoring.cancel()
            self._discard_results = True
        self._scores, self._applied, self._pending_change = {}, set(), None
        project = self.project
        self.active = project.active_model_version()
        self.previous = None
        prev = project.get_setting(PREVIOUS_MODEL_KEY)
        if isinstance(prev, int) and self.active is not None and prev != self.active.id:
            self.previous = next((m for m in project.model_versions() if m.id == prev), None)
        if self.active is not None and load_scores:
            self._load_cached_scores(self.active, project.feature_files())
        self.events.versions_changed.emit()

    def _load_cached_scores(self, mv, features: dict) -> dict:
        """Hold the cached scores of `mv` for `features` ({name: path}); a video whose
        predictions under `mv` are not stored yet gets them from those scores. Returns the
        misses {name: path} (no cached scores)."""
        from ..jobs.scoring import VideoResult
        from ..project.score_cache import ScoreCache
        from ..sdanet.localization import PostProcessing

        cache = ScoreCache.for_project(self.project)
        misses = {}
        for name, path in features.items():
            cached = cache.get(mv.id, path)
            rec = self.project.find_video(name)
            if cached is None or rec is None:
                misses[name] = path
                continue
            params = PostProcessing.from_dict(cached.post) if isinstance(cached.post, dict) else None
            result = VideoResult(name, cached.cas, cached.attention, cached.spec, cached.classes,
                                 [], mv.name, mv.checkpoint or "", params,
                                 modality_attention=cached.modality_attention)
            self._scores[name] = result
            if params is not None and self.saved_postprocess() is None:
                self._postprocess_defaults(params)  # the checkpoint's, until changed
            if not self.project.predicted_segments(rec.id, mv.id):  # never stored: from the scores
                self._add_model_classes(cached.classes)
                self._store_predictions(rec, self._localized(result, params or PostProcessing()),
                                        mv, replace=True)
            self._applied.add(name)
        return misses

    # --- scoring results (owner's thread) -------------------------------------------------------
    def _scored(self, result: "VideoResult") -> None:
        if self._discard_results or self.project is None:
            return  # a cancelled run's (or the last project's) result
        self._scores[result.name] = result
        if result.params is not None and self.saved_postprocess() is None:
            self._postprocess_defaults(result.params)  # the checkpoint's, until changed
        self._apply_scores(result.name)
        if self._classes_to_check is not None:
            self._check_classes(result)

    def _apply_scores(self, name: str) -> None:
        """Store the predictions of a scored video once it is registered."""
        result = self._scores.get(name)
        project = self.project
        rec = project.find_video(name) if (result is not None and project is not None) else None
        if rec is None or name in self._applied:
            return
        self._applied.add(name)
        self._add_model_classes(result.classes)
        if self.active is None:  # scored without a version: a new one, made active
            mv = project.add_model_version(result.model_name, checkpoint=result.checkpoint)
            self._make_active(mv, project.active_model_version())
        feature = self._score_features.get(name)
        if feature is not None:
            if not rec.feature_ref:  # the project remembers where this video's features are
                project.set_video_fields(rec.id, feature_ref=str(Path(feature).absolute()))
            self._cache_scores(result, feature)
        self._store_predictions(rec, self._localized(result), self.active, replace=True)
        self.events.predictions_changed.emit(name)

    def _add_model_classes(self, classes) -> None:
        """A model's classes join the project's. The one lane a new project got to draw in
        (DEFAULT_CLASS) goes when nothing uses it, so it neither stays as a stray lane nor shifts
        the model's classes to other colours."""
        project = self.project
        if DEFAULT_CLASS not in classes and project.classes() == [DEFAULT_CLASS]:
            project.remove_unused_class(DEFAULT_CLASS)
        project.add_classes(classes)

    def _cache_scores(self, result: "VideoResult", feature_path) -> None:
        from ..project.score_cache import CachedScores, ScoreCache

        post = result.params.to_dict() if result.params is not None else None
        try:
            ScoreCache.for_project(self.project).put(
                self.active.id, feature_path,
                CachedScores(result.name, result.cas, result.attention, result.spec, list(result.classes),
                             post, result.modality_attention))
        except (UserError, ValueError) as exc:  # the scores are still shown; only not kept
            log.warning("scores of %s not cached: %s", result.name, exc)
            self.events.status.emit(f"Scores of {result.name} not cached: {exc}", 0)

    def _scoring_progress(self, done: int, total: int) -> None:
        self.events.scoring_progress.emit(done, total)
        self.events.status.emit(f"Scored {done} / {total} videos", 0)

    def _scoring_failed(self, message: str) -> None:
        self._scoring_error = True
        self.events.problem.emit("Scoring failed", message)

    def _scoring_finished(self) -> None:
        self._runs_open = max(0, self._runs_open - 1)
        try:
            self._run_ended()
        finally:
            self.events.scoring_finished.emit()

    def _run_ended(self) -> None:
        if self._discard_results:  # the cancelled run ended (runs are one after the other)
            self._discard_results = False
            queued, self._queued_adopt = self._queued_adopt, None
            if queued is not None:
                self.adopt(queued)
            return
        if self._runs_open or self._pending_change is None:  # a late signal, or nothing to report
            return
        previous, mv, _, previous_before = self._pending_change
        scored_any = any(name in self._applied for name in self._score_features)
        if self._scoring_error and not scored_any and previous is not None:
            # nothing could be scored with the new version: the previous one stays in use
            self._pending_change = None
            self._revert_to(previous, previous_before)
            self.events.status.emit(f"Scoring with model '{mv.name}' failed; model "
                                    f"'{previous.name}' stays active", 0)
            return
        self._report_changes()

    def _revert_to(self, mv, previous) -> None:
        """Back to `mv` as active with `previous` as previous, as before a failed switch."""
        self.project.set_active_model_version(mv.id)
        self.active, self.previous = mv, previous
        self.project.set_setting(PREVIOUS_MODEL_KEY, previous.id if previous is not None else None)
        self._scores, self._applied = {}, set()
        self._load_cached_scores(mv, self.project.feature_files())
        self.events.versions_changed.emit()
        self.events.predictions_changed.emit(None)

    def _report_changes(self) -> None:
        """Tell what the version switch changed (status line, log, `change_summary`)."""
        from .versions import summarize_change

        if self._pending_change is None or self.project is None:
            return
        previous, mv, names, _ = self._pending_change
        self._pending_change = None
        summary = summarize_change(self.project, previous, mv, names, self._applied)
        self.change_summary = summary
        self.events.status.emit(summary.short_text(), 30000)
        log.info("%s", summary.details_text())
        self.events.versions_changed.emit()

    # --- post-processing from the cached scores --------------------------------------------------
    def postprocess_params(self):
        """What a post-processing panel shows: the project's saved values, else the defaults of
        the active version's checkpoint (once its scores were seen), else the engine's."""
        from ..sdanet.localization import PostProcessing

        return self.saved_postprocess() or self._checkpoint_postprocess or PostProcessing()

    def _postprocess_defaults(self, params) -> None:
        self._checkpoint_postprocess = params
        self.events.postprocess_defaults.emit(params)

    def saved_postprocess(self):
        """The project's saved PostProcessing, or None (then the checkpoint's values apply)."""
        from ..sdanet.localization import PostProcessing

        saved = self.project.get_setting(POSTPROCESS_KEY) if self.project is not None else None
        if not isinstance(saved, dict):
            return None
        try:
            return PostProcessing.from_dict(saved)
        except (TypeError, ValueError) as exc:
            log.warning("%s: ignoring the saved post-processing %r (%s)", self.project.folder, saved, exc)
            return None

    def _localized(self, result: "VideoResult", fallback=None) -> list:
        """The segments of a scored video under the project's post-processing; without one,
        the run's own segments (or `fallback`'s when the result has none, i.e. cached scores)."""
        from ..sdanet.localization import localize_video

        params = self.saved_postprocess() or fallback
        if params is None:
            return list(result.segments)
        return localize_video(result.cas, result.attention, result.spec, result.classes, params)

    def set_postprocess(self, params, video_name: str | None) -> int | None:
        """Save `params` as the project's post-processing and re-localize video `video_name`
        from its cached scores (no network), replacing its predictions of the active version.
        Returns how many predicted segments it has now; None when it has no scores yet."""
        if self.project is None:
            return None
        self.project.set_setting(POSTPROCESS_KEY, params.to_dict())
        result = self.result(video_name) if video_name is not None else None
        if result is None or self.active is None:
            return None
        rec = self.project.find_video(video_name)
        n = self._store_predictions(rec, self._localized(result), self.active, replace=True)
        self.events.predictions_changed.emit(video_name)
        return n

    def _store_predictions(self, rec, segments, mv, replace: bool = False) -> int:
        """Write `segments` (seconds) as rec's predictions of version `mv`; with `replace`, that
        version's earlier predictions of rec go (Project.add_predictions). Returns how many."""
        import numpy as np

        project = self.project
        segments = list(segments)
        starts, ends = project.seconds_to_frames(rec.id, np.array([s.start for s in segments], float),
                                                 np.array([s.end for s in segments], float))
        rows = [(seg.label, int(sf), int(ef), float(seg.score or 0.0))
                for seg, sf, ef in zip(segments, starts, ends) if ef > sf]
        return project.add_predictions(mv.id, rec.id, rows, replace=replace)


def fresh_folder(root: Path, name: str) -> Path:
    """`root / name`, or `root / "name (2)"`, `"name (3)"`, ... for the first that does not exist:
    two projects made in the same second (two windows, a quick relaunch) must not collide."""
    folder, n = root / name, 1
    while folder.exists():
        n += 1
        folder = root / f"{name} ({n})"
    return folder
