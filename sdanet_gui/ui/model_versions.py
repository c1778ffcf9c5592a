"""Model versions in the review window: what changed when another version became active, and the
Model > Versions… dialog (list with metrics, one-click rollback).

Why: after fine-tuning (or loading another checkpoint) the user must see whether the new model is
better and be able to go back in one click. Two parts:
- `compare_predictions` / `ChangeSummary`: per video, the SHOWN predicted segments of the new
  version against those of the previous one (added / removed / changed / unchanged). Pure
  functions over the store's records; no Qt is needed to compute them.
- `ModelVersionsDialog`: name, created, parent, held-out average mAP before -> after (from the
  fine-tune metrics when present), checkpoint (a missing file is shown as such), the active and
  the previous version marked; "Make active" calls `MainWindow.adopt_model_version`.

It never writes predictions or human segments itself and never runs the model: the window does
the scoring (scoring.ScoringWorker) and the storing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QPlainTextEdit,
                               QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout)

# Two predictions of the same class are "the same segment, changed" when their temporal IoU
# (in frames) is at least this; below it the old one counts as removed and the new as added.
# 0.5 is the usual detection match criterion (mAP@0.5), so a "changed" segment is one that
# would still hit the same ground truth at the common threshold.
MATCH_TIOU = 0.5
ID_ROLE = Qt.ItemDataRole.UserRole


# --- what changed -----------------------------------------------------------------------------

@dataclass
class VideoChange:
    """How one video's shown predictions differ between two model versions (counts)."""

    video: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _tiou(a, b) -> float:
    inter = min(a.end_frame, b.end_frame) - max(a.start_frame, b.start_frame)
    if inter <= 0:
        return 0.0
    return inter / float(max(a.end_frame, b.end_frame) - min(a.start_frame, b.start_frame))


def compare_predictions(video: str, old: Sequence, new: Sequence, min_tiou: float = MATCH_TIOU) -> VideoChange:
    """Match `new` predictions (records with label, start_frame, end_frame) to `old` ones of the
    same class: identical frames = unchanged; otherwise the best remaining pairs with tIoU >=
    `min_tiou` (greedy, highest first) = changed; the rest of `new` = added, of `old` = removed."""
    out = VideoChange(video)
    old_left, new_left = list(old), []
    for p in new:
        twin = next((i for i, q in enumerate(old_left) if (q.label, q.start_frame, q.end_frame)
                     == (p.label, p.start_frame, p.end_frame)), None)
        if twin is None:
            new_left.append(p)
        else:
            old_left.pop(twin)
            out.unchanged += 1
    pairs = sorted(((_tiou(p, q), i, j) for i, p in enumerate(new_left) for j, q in enumerate(old_left)
                    if p.label == q.label), reverse=True)
    used_new, used_old = set(), set()
    for t, i, j in pairs:
        if t < min_tiou:
            break
        if i not in used_new and j not in used_old:
            used_new.add(i)
            used_old.add(j)
            out.changed += 1
    out.added = len(new_left) - len(used_new)
    out.removed = len(old_left) - len(used_old)
    return out


@dataclass
class ChangeSummary:
    """What the user is told when a model version became active (after its scoring ended)."""

    new_name: str
    previous_name: str | None
    videos: list[VideoChange] = field(default_factory=list)
    not_scored: list[str] = field(default_factory=list)  # videos without features / scores

    def totals(self) -> VideoChange:
        t = VideoChange("all")
        for v in self.videos:
            t.added += v.added
            t.removed += v.removed
            t.changed += v.changed
            t.unchanged += v.unchanged
        return t

    def short_text(self) -> str:
        """One status-bar line."""
        if not self.videos:
            return (f"Model '{self.new_name}' active; no video has features or cached scores to "
                    f"compare (extract features: Model > Extract features…)")
        if self.previous_name is None:
            n = sum(v.added for v in self.videos)
            return f"Model '{self.new_name}' active: {n} predicted segments in {len(self.videos)} videos"
        t = self.totals()
        changed_videos = sum(1 for v in self.videos if v.any)
        return (f"Model '{self.new_name}' active (was '{self.previous_name}'): {changed_videos} of "
                f"{len(self.videos)} videos changed — predicted segments +{t.added} added, "
                f"−{t.removed} removed, {t.changed} changed, {t.unchanged} unchanged")

    def details_text(self) -> str:
        """Per video, for the log and the Versions dialog."""
        lines = [self.short_text()]
        for v in self.videos:
            lines.append(f"  {v.video}: +{v.added} added, −{v.removed} removed, {v.changed} changed, "
                         f"{v.unchanged} unchanged")
        if self.not_scored:
            lines.append(f"  not scored (no features or cached scores): {', '.join(self.not_scored)}")
        return "\n".join(lines)


def summarize_change(project, previous, new, videos: Sequence[str], scored) -> ChangeSummary:
    """The change summary of a switch from model version `previous` (or None) to `new` over
    `videos` (names); those not in `scored` (no scores under `new`) are listed as not scored.
    Compares what the reviewer SEES: each version's predictions through the project's display
    filter (prediction_filter), not the soft-NMS duplicates the store also keeps."""
    from .prediction_filter import DEFAULT_MIN_RELATIVE, SETTING_KEY, visible_predictions

    value = project.get_setting(SETTING_KEY, DEFAULT_MIN_RELATIVE)
    min_relative = float(value) if isinstance(value, (int, float)) else DEFAULT_MIN_RELATIVE
    summary = ChangeSummary(new.name, previous.name if previous is not None else None)
    for name in videos:
        rec = project.find_video(name)
        if rec is None or name not in scored:
            summary.not_scored.append(name)
            continue
        shown = visible_predictions(project.predicted_segments(rec.id, new.id), min_relative)
        before = (visible_predictions(project.predicted_segments(rec.id, previous.id), min_relative)
                  if previous is not None else [])
        summary.videos.append(compare_predictions(name, before, shown))
    return summary


# --- metrics ----------------------------------------------------------------------------------

def finetune_map(mv) -> tuple[float | None, float | None]:
    """(before, after) held-out average mAP of a fine-tuned version; (None, None) otherwise.
    Reads metrics["finetune"] (the engine's checkpoint metrics) or the metrics themselves (the
    fine-tune job's "done" message carries before/after at the top level)."""
    metrics = mv.metrics if isinstance(mv.metrics, dict) else {}
    f = metrics.get("finetune", metrics)
    if not isinstance(f, dict):
        return None, None

    def avg(key):
        m = f.get(key)
        v = m.get("average_mAP") if isinstance(m, dict) else None
        return float(v) if isinstance(v, (int, float)) else None

    return avg("before"), avg("after")


def _map_text(mv) -> str:
    before, after = finetune_map(mv)
    if before is None and after is None:
        return "—"

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f}"

    return f"{pct(before)} → {pct(after)}"


# --- the dialog -------------------------------------------------------------------------------

def _local_time(iso: str) -> str:
    """A stored UTC time stamp as local 'YYYY-MM-DD HH:MM:SS'."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(iso)


class ModelVersionsDialog(QDialog):
    """Model > Versions…: every model version of the project; "Make active" rolls back (or
    forward) in one click through `window.adopt_model_version`."""

    COLUMNS = ("", "Version", "Created", "Parent", "Held-out avg mAP (before → after)", "Checkpoint")
    STATE, NAME, CREATED, PARENT, MAP, CHECKPOINT = range(6)

    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setObjectName("modelVersionsDialog")
        self.setWindowTitle("Model versions")
        self.resize(860, 420)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("modelVersionsTree")
        self.tree.setColumnCount(len(self.COLUMNS))
        self.tree.setHeaderLabels(self.COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda *_: self.make_active())
        self.changes = QPlainTextEdit(self)
        self.changes.setObjectName("modelChanges")
        self.changes.setReadOnly(True)
        self.changes.setMaximumHeight(130)
        self.changes.setPlaceholderText("What changed when a version becomes active is shown here.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.make_active_button = QPushButton("Make active", self)
        self.make_active_button.setObjectName("makeActiveButton")
        self.make_active_button.setToolTip(
            "Use this version: its predictions are shown (re-scored in the background where no "
            "cached scores exist). Human segments are never changed.")
        self.make_active_button.clicked.connect(self.make_active)
        buttons.addButton(self.make_active_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(QLabel("Last change of the active model:", self))
        layout.addWidget(self.changes)
        layout.addWidget(buttons)
        window.model_version_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        project = self.window_.project
        selected = self.selected_version_id()
        self.tree.clear()
        if project is None or project.closed:
            return
        active = project.active_model_version()
        previous = self.window_.previous_model_version()
        names = {}
        for mv in project.model_versions():
            names[mv.id] = mv.name
            ckpt = project.model_checkpoint(mv)
            ckpt_text = "—" if ckpt is None else (str(ckpt) if ckpt.is_file() else f"{ckpt} (missing)")
            state = ("● active" if active is not None and mv.id == active.id
                     else "previous" if previous is not None and mv.id == previous.id else "")
            item = QTreeWidgetItem([state, mv.name, _local_time(mv.created),
                                    names.get(mv.parent_id, "—" if mv.parent_id is None else f"#{mv.parent_id}"),
                                    _map_text(mv), ckpt_text])
            item.setData(0, ID_ROLE, mv.id)
            if ckpt is not None and not ckpt.is_file():
                item.setForeground(self.CHECKPOINT, Qt.GlobalColor.gray)
                item.setToolTip(self.CHECKPOINT, "The checkpoint file is missing: videos without "
                                                 "cached scores cannot be re-scored with this version")
            if state == "● active":
                for c in range(len(self.COLUMNS)):
                    font = QFont(item.font(c))
                    font.setBold(True)
                    item.setFont(c, font)
            self.tree.addTopLevelItem(item)
            if mv.id == selected:
                item.setSelected(True)
        summary = self.window_.change_summary
        self.changes.setPlainText(summary.details_text() if summary is not None else "")
        self._update_buttons()

    def items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def item_of(self, mid: int) -> QTreeWidgetItem | None:
        return next((it for it in self.items() if it.data(0, ID_ROLE) == mid), None)

    def selected_version_id(self) -> int | None:
        items = self.tree.selectedItems() if self.tree is not None else []
        return int(items[0].data(0, ID_ROLE)) if items else None

    def _update_buttons(self) -> None:
        project = self.window_.project
        mid = self.selected_version_id()
        active = project.active_model_version() if project is not None and not project.closed else None
        self.make_active_button.setEnabled(mid is not None and (active is None or mid != active.id))

    def make_active(self) -> None:
        mid = self.selected_version_id()
        project = self.window_.project
        if mid is None or project is None:
            return
        self.window_.adopt_model_version(project.model_version(mid))
        self.refresh()

