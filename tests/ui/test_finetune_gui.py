"""One-click fine-tuning in the real window: click Fine-tune, drive the start dialog, watch the
training dock fill while the window keeps answering, then Stop (a new active version and the
result dialog), Cancel (nothing changes), a killed child and a NaN loss (an error dialog, the
previous version stays active and its checkpoint untouched), and closing the window mid-run.

Real parts: a project in tmp holding the three bundled demo videos with their real feature
files (tiny 256-d features), human segments added through the project's edit commands and the
videos marked reviewed, the bundled demo checkpoint as the active model version, and the real
child process (multiprocessing spawn, real torch training). Each test starts one child; steps
are set high so that the run is still going when the test presses Stop / Cancel / kills it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

DEMO_VIDEOS = ("demo_1", "demo_2", "demo_3")
CHILD_TIMEOUT_MS = 60_000   # spawn + torch import + eval on a busy 2-core machine


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_demo_project(folder: Path) -> Path:
    """A closed project: demo_1..3 with features, every demo segment added by a human, each video
    reviewed 'done'; a fourth video with neither; the bundled demo checkpoint as model version."""
    from sdanet_gui.bundled import model_files, resource_files
    from sdanet_gui.project.commands import AddSegment, SetReviewState
    from sdanet_gui.project.store import Project

    demo = Path(str(resource_files() / "demo"))
    ann = json.loads((demo / "annotations.json").read_text())
    project = Project.create(folder)
    try:
        project.add_classes(ann["class_list"])
        for name in DEMO_VIDEOS:
            info = ann["database"][name]
            duration = float(info["duration"])
            rec = project.add_video(name, fps=25.0, frame_count=int(round(duration * 25)), duration=duration,
                                    feature_ref=str(demo / "features" / f"{name}.h5"))
            for a in info["annotations"]:
                start, end = project.seconds_to_frames(rec.id, *a["segment"])
                AddSegment(rec.id, a["label"], start, end).apply(project)
            SetReviewState(rec.id, "done").apply(project)
        project.add_video("unreviewed", fps=25.0, frame_count=250, duration=10.0)
        project.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        base = shutil.copy(Path(str(model_files() / "demo.pt")), project.checkpoints_dir / "demo.pt")
        project.add_model_version("demo", checkpoint=base)
    finally:
        project.close()
    return folder


@pytest.fixture
def ft_window(window, tmp_path):
    """The main window with the demo fine-tuning project open.

    Safety net for a test that fails mid-run: pytest-qt closes the window before fixtures are
    torn down, and closing during training asks a (modal) question; a question left open for
    3 s is answered Yes here, so a failure never hangs the suite."""
    window.opening.open_project(make_demo_project(tmp_path / "proj"))
    assert window.project is not None
    seen: dict[int, int] = {}

    def answer_stale_question():
        box = window.finetune_flow.close_question
        if box is not None:
            seen[id(box)] = seen.get(id(box), 0) + 1
            if seen[id(box)] >= 3:
                box.button(QMessageBox.StandardButton.Yes).click()

    guard = QTimer()
    guard.setInterval(1000)
    guard.timeout.connect(answer_stale_question)
    guard.start()
    yield window
    guard.stop()
    run = window.session.finetune
    if run.busy():  # never leave a child or a running thread behind
        run.shutdown()


def base_version(window):
    return window.project.model_versions()[0]


def click_finetune(qtbot, window, *, steps: int, lr: float | None = None):
    """Press the toolbar button, check the dialog's default choice, set the steps (and the
    learning rate) under Advanced, press OK. Returns the window's FinetuneFlow."""
    button = window.toolbar.widgetForAction(window.menus.finetune)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    control = window.finetune_flow
    dialog = control.dialog
    assert dialog is not None and dialog.isVisible()
    names = {dialog.videos.topLevelItem(i).text(0): dialog.videos.topLevelItem(i).checkState(0)
             for i in range(dialog.videos.topLevelItemCount())}
    assert names == {"demo_1": Qt.CheckState.Checked, "demo_2": Qt.CheckState.Checked,
                     "demo_3": Qt.CheckState.Checked, "unreviewed": Qt.CheckState.Unchecked}
    assert dialog.counts.text().startswith("3 of 4 videos chosen")
    assert not dialog.advanced.isVisible()
    qtbot.mouseClick(dialog.advanced_toggle, Qt.MouseButton.LeftButton)
    assert dialog.advanced.isVisible()
    dialog.steps.setValue(steps)
    if lr is not None:
        dialog.lr.setText(repr(lr))
    assert dialog.ok_button.isEnabled(), dialog.problem.text()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert control.run.busy()
    return control


def wait_progress(qtbot, control, count: int = 2) -> None:
    qtbot.waitUntil(lambda: control.dock.progress_count >= count or control.run.last_final is not None,
                    timeout=CHILD_TIMEOUT_MS)
    assert control.run.last_final is None, control.run.last_final


def error_box(window) -> QMessageBox:
    boxes = [b for b in window.findChildren(QMessageBox, "errorDialog") if b.isVisible()]
    assert len(boxes) == 1
    return boxes[0]


def test_stop_keeps_the_weights_as_a_new_version_that_is_used_only_when_the_user_says_so(qtbot, ft_window):
    """The demo scenario: three reviewed videos, so one can be held out: too little to tell.
    The run is registered but the model in use stays, the result dialog says why, and "Use
    anyway" makes it active after the user has seen the numbers; Model > Versions goes back."""
    window = ft_window
    base = base_version(window)
    base_hash = sha256(window.project.model_checkpoint(base))
    control = click_finetune(qtbot, window, steps=100_000)
    dock = control.dock
    assert control.dock_widget.isVisible() and dock.running
    wait_progress(qtbot, control)

    # the dock shows the run...
    assert re.fullmatch(r"Device: (cpu|cuda\S*.*) \((fp32|mixed precision)\)", dock.device_label.text())
    assert dock.bar.maximum() == 100_000 and dock.bar.value() >= 1
    steps, totals = dock.curve_data("total")
    assert len(steps) >= 1 and len(steps) == len(totals)
    assert dock.before_label.text().endswith("%")
    # ...while the window keeps answering: typing into the video filter filters the list
    window.video_list.filter.setFocus()
    qtbot.keyClicks(window.video_list.filter, "demo_2")
    assert window.video_list.filter.text() == "demo_2"
    assert control.run.busy()

    qtbot.mouseClick(dock.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: control.run.last_final is not None, timeout=CHILD_TIMEOUT_MS)
    assert control.run.last_final["type"] == "done", control.run.last_final
    assert control.run.last_final["stopped"] is True

    project = window.project
    versions = project.model_versions()
    assert [v.id for v in versions] == [base.id, control.run.new_version.id]
    new = versions[-1]
    assert new.parent_id == base.id and new.metrics["classes"] == ["Flash", "Slide", "Grow", "Spin"]
    assert project.active_model_version().id == base.id          # never worse by surprise
    assert Path(project.model_checkpoint(new)).is_file()
    assert sha256(project.model_checkpoint(base)) == base_hash

    result = control.result_dialog
    assert result is not None and result.isVisible()
    assert result.summary.stopped and result.summary.steps_done < 100_000
    assert "Held-out average mAP" in result.findChild(QLabel, "resultHeadline").text()
    verdict = result.findChild(QLabel, "resultDecision").text()
    assert "not</b> in use" in verdict and "too little held out to tell" in verdict
    trust = result.findChild(QLabel, "resultTrust").text()
    assert "on 1 held-out video" in trust and "interval" in trust
    assert result.table.rowCount() >= 1 and result.rollback_button is None
    assert not dock.running and "not in use" in dock.status.text()
    qtbot.waitUntil(lambda: not control.run.busy(), timeout=15_000)

    # "Use anyway": active now, the window re-scores the videos with it in the background
    qtbot.mouseClick(result.use_anyway_button, Qt.MouseButton.LeftButton)
    assert project.active_model_version().id == new.id
    qtbot.waitUntil(lambda: all(project.predicted_segments(v, new.id) for v in DEMO_VIDEOS),
                    timeout=CHILD_TIMEOUT_MS)
    # and Model > Versions offers the way back: the base version is active again, nothing deleted
    dialog = window.versions_dialog()
    item = dialog.item_of(base.id)
    assert "bundled demo model" in item.text(dialog.NAME)         # labelled as a demo
    dialog.tree.setCurrentItem(item)
    qtbot.mouseClick(dialog.make_active_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: project.active_model_version().id == base.id, timeout=CHILD_TIMEOUT_MS)
    assert [v.id for v in project.model_versions()] == [base.id, new.id]
    dialog.close()


def test_cancel_discards_the_run(qtbot, ft_window):
    window = ft_window
    base = base_version(window)
    control = click_finetune(qtbot, window, steps=100_000)
    wait_progress(qtbot, control, count=1)
    qtbot.mouseClick(control.dock.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: control.run.last_final is not None, timeout=CHILD_TIMEOUT_MS)
    assert control.run.last_final["type"] == "cancelled"
    assert [v.id for v in window.project.model_versions()] == [base.id]
    assert window.project.active_model_version().id == base.id
    assert not Path(control.run.request.out_checkpoint).exists()
    assert "Cancelled" in control.dock.status.text() and not control.dock.running
    assert control.result_dialog is None
    qtbot.waitUntil(lambda: not control.run.busy(), timeout=15_000)


def test_killed_child_is_an_error_and_the_previous_model_stays(qtbot, ft_window):
    window = ft_window
    base = base_version(window)
    base_hash = sha256(window.project.model_checkpoint(base))
    control = click_finetune(qtbot, window, steps=100_000)
    wait_progress(qtbot, control, count=1)
    os.kill(control.run.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: control.run.last_final is not None, timeout=CHILD_TIMEOUT_MS)
    assert control.run.last_final["type"] == "failed"
    box = error_box(window)
    assert box.windowTitle() == "Fine-tuning failed"
    assert "previous model" in box.text()
    assert [v.id for v in window.project.model_versions()] == [base.id]
    assert window.project.active_model_version().id == base.id
    assert sha256(window.project.model_checkpoint(base)) == base_hash
    assert not Path(control.run.request.out_checkpoint).exists()
    assert window.isVisible() and not control.dock.running
    box.close()
    qtbot.waitUntil(lambda: not control.run.busy(), timeout=15_000)


def test_nan_loss_is_a_clear_error_and_the_previous_model_stays(qtbot, ft_window):
    window = ft_window
    base = base_version(window)
    base_hash = sha256(window.project.model_checkpoint(base))
    control = click_finetune(qtbot, window, steps=200, lr=1e30)
    qtbot.waitUntil(lambda: control.run.last_final is not None, timeout=CHILD_TIMEOUT_MS)
    assert control.run.last_final["type"] == "failed" and control.run.last_final["kind"] == "nan", control.run.last_final
    box = error_box(window)
    assert "previous model" in box.text()
    assert [v.id for v in window.project.model_versions()] == [base.id]
    assert window.project.active_model_version().id == base.id
    assert sha256(window.project.model_checkpoint(base)) == base_hash
    assert not Path(control.run.request.out_checkpoint).exists()
    box.close()
    qtbot.waitUntil(lambda: not control.run.busy(), timeout=15_000)


def test_closing_the_window_while_training_asks_and_kills_the_child(qtbot, ft_window):
    window = ft_window
    control = click_finetune(qtbot, window, steps=100_000)
    qtbot.waitUntil(lambda: control.run.pid is not None, timeout=CHILD_TIMEOUT_MS)
    job = control.run.job
    answers = []

    def answer(button):
        box = control.close_question
        if box is None:
            QTimer.singleShot(20, lambda: answer(button))
            return
        answers.append(button)
        box.button(button).click()

    QTimer.singleShot(20, lambda: answer(QMessageBox.StandardButton.No))
    window.close()
    assert answers == [QMessageBox.StandardButton.No]
    assert window.isVisible() and control.run.busy()       # "No" keeps the window and the run

    QTimer.singleShot(20, lambda: answer(QMessageBox.StandardButton.Yes))
    window.close()
    assert not window.isVisible()
    assert not job.is_alive()
    assert not control.run.busy() or control.run.wait(5)


def test_finetune_without_a_model_says_load_a_checkpoint_first(qtbot, window, tmp_path):
    from sdanet_gui.project.store import Project

    Project.create(tmp_path / "empty").close()
    window.opening.open_project(tmp_path / "empty")
    window.menus.finetune.trigger()
    box = error_box(window)
    assert "load a checkpoint first" in box.text()
    assert window.session.finetune.runner is None
    box.close()
    QApplication.processEvents()


def test_start_dialog_refuses_what_cannot_train_and_offers_the_replay_set(qtbot, ft_window, tmp_path):
    from sdanet_gui import user_settings

    window = ft_window
    dialog = window.finetune()
    # what it trains on, per class, before it starts; and why it will not decide anything
    material = dialog.material_label.text()
    assert "It trains on" in material and "Flash:" in material and "drawn or edited" in material
    assert "reviewed background" in material and "Only 1 fully reviewed video(s) can be held out" in material
    assert not dialog.warning.isVisible()                # segments drawn by hand: no self-training
    first, second, third = (dialog.videos.topLevelItem(i) for i in range(3))
    for item in (first, second):  # one video with segments left: it can train, nothing held out
        item.setCheckState(0, Qt.CheckState.Unchecked)
    assert dialog.ok_button.isEnabled()
    assert dialog.counts.text().startswith("1 of 4 videos chosen: 8 human segments")
    assert "Only 0 fully reviewed video(s) can be held out" in dialog.material_label.text()
    third.setCheckState(0, Qt.CheckState.Unchecked)
    assert not dialog.ok_button.isEnabled() and "at least one video" in dialog.problem.text()
    first.setCheckState(0, Qt.CheckState.Checked)
    third.setCheckState(0, Qt.CheckState.Checked)
    assert dialog.ok_button.isEnabled()

    qtbot.mouseClick(dialog.advanced_toggle, Qt.MouseButton.LeftButton)
    dialog.lr.setFocus()
    qtbot.keyClicks(dialog.lr, "fast")
    assert not dialog.ok_button.isEnabled() and "Learning rate 'fast'" in dialog.problem.text()
    dialog.lr.clear()
    dialog.replay.setText(str(tmp_path / "nowhere.h5"))
    assert not dialog.ok_button.isEnabled() and "nowhere.h5: replay feature set not found" in dialog.problem.text()
    replay = tmp_path / "base_features.h5"
    replay.write_bytes(b"")
    dialog.replay.setText(str(replay))
    assert dialog.ok_button.isEnabled()
    options = dialog.options()
    assert (options.steps, options.lr, options.holdout, options.replay) == (100, None, 0.2, str(replay))
    assert sorted(options.video_ids) == sorted(
        window.project.find_video(n).id for n in ("demo_1", "demo_3"))
    dialog.reject()
    # the replay set is a per-user setting ("finetune_replay"), offered by the next dialog
    user_settings.update(finetune_replay=str(replay))
    assert window.finetune().replay.text() == str(replay)


def test_a_model_of_the_projects_own_from_the_model_menu(qtbot, ft_window):
    """Model > New model from this project…: the same dialog, for a cold start (no base, a cold
    start's steps), measured against the model in use; too little held out -> not in use."""
    window = ft_window
    base = base_version(window)
    window.menus.new_model.trigger()
    control = window.finetune_flow
    dialog = control.dialog
    assert dialog.objectName() == "newModelDialog" and dialog.isVisible()
    assert dialog.windowTitle() == "New model from this project" and dialog.steps.value() == 400
    assert any("bundled demo model" in label.text() for label in dialog.findChildren(QLabel))
    assert not dialog.replay_on.isVisible() and dialog.options().replay is None
    qtbot.mouseClick(dialog.advanced_toggle, Qt.MouseButton.LeftButton)
    dialog.steps.setValue(3)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: control.run.last_final is not None, timeout=CHILD_TIMEOUT_MS)
    assert control.run.last_final["type"] == "done", control.run.last_final
    new = control.run.new_version
    assert new.name == "proj model 1" and new.parent_id is None and new.metrics["cold_start"] is True
    assert window.project.active_model_version().id == base.id
    result = control.result_dialog
    assert result.windowTitle() == "Training result" and result.use_anyway_button is not None
    assert result.summary.report.before is not None          # measured against the demo model
    qtbot.waitUntil(lambda: not control.run.busy(), timeout=15_000)
    result.close()


def test_accepted_predictions_alone_are_warned_about_before_the_run(qtbot, window, tmp_path):
    from sdanet_gui.project.commands import AcceptPredictions
    from sdanet_gui.project.store import Project

    folder = make_demo_project(tmp_path / "proj")
    with Project.open(folder) as p:     # every human segment becomes an accepted prediction
        mv = p.model_versions()[0]
        for name in DEMO_VIDEOS:
            rows = [(s.label, s.start_frame, s.end_frame, 0.9) for s in p.segments(name)]
            with p.transaction() as c:
                c.execute("DELETE FROM segments WHERE video_id = ?", (p.video(name).id,))
            p.add_predictions(mv.id, name, rows)
            AcceptPredictions([s.id for s in p.predicted_segments(name, mv.id)]).apply(p)
    window.opening.open_project(folder)
    dialog = window.finetune()
    assert dialog.warning.isVisible() and "self-training" in dialog.warning.text()
    assert "accepted predictions" in dialog.material_label.text()
    dialog.reject()


def test_a_checkpoint_without_the_projects_classes_suggests_the_two_ways(qtbot, ft_window, monkeypatch):
    from sdanet_gui.bundled import model_files
    from sdanet_gui.project.commands import AddSegment

    window = ft_window
    project = window.project
    project.add_classes(["Wave"])
    AddSegment(project.video("demo_1").id, "Wave", 10, 40).apply(project)
    monkeypatch.setattr("sdanet_gui.ui.shell.main_window.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(Path(str(model_files() / "demo.pt"))), ""))
    window.menus.load_checkpoint.trigger()
    qtbot.waitUntil(lambda: window.finetune_flow.suggestion is not None, timeout=CHILD_TIMEOUT_MS)
    box = window.finetune_flow.suggestion
    assert box.objectName() == "modelLacksClasses" and box.isVisible() and "Wave" in box.text()
    button = next(b for b in box.buttons() if b.text().startswith("New model from this project"))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.finetune_flow.dialog
    assert dialog is not None and dialog.objectName() == "newModelDialog" and dialog.isVisible()
    dialog.reject()
