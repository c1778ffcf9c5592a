"""Annotations imported onto a located video that is shorter than the file says: the segments
that do not fit are clipped to the video, and the user is told how many (never silently)."""

from __future__ import annotations

from sdanet_gui.cli import main
from sdanet_gui.project.exchange import import_annotations, locate_video_file
from sdanet_gui.project.store import Project

DEMO = "mmaction2__demo.mp4"  # 280 frames at 28 fps: 10.0 s


def _csv(path, rows):
    path.write_text("video,label,start_s,end_s\n" + "".join(f"demo,{lab},{a},{b}\n" for lab, a, b in rows))
    return path


def _located(folder, shared_data) -> Project:
    p = Project.create(folder)
    p.add_video("demo")
    locate_video_file(p, "demo", shared_data / "videos" / DEMO)
    assert p.frame_limit("demo") == 280
    return p


def test_segments_past_the_end_of_a_located_video_are_counted_and_reported(shared_data, tmp_path):
    src = _csv(tmp_path / "gt.csv", [("jump", 1.0, 2.0),      # fits
                                     ("jump", 9.0, 10.01),    # rounds to the end: not clipped
                                     ("run", 8.0, 12.0),      # ends 2 s after the end
                                     ("run", 11.0, 13.0)])    # starts after the end
    with _located(tmp_path / "p", shared_data) as p:
        report = import_annotations(p, src)
        assert report.segments == 4
        assert (report.clipped, report.clipped_outside) == (2, 1)
        warning = report.warning()
        assert "2 segments" in warning and "clipped" in warning and "1 of them starts after" in warning
        assert str(src) in warning
        assert "2 clipped at the end of their video (1 start after it)" in report.summary()
        ends = sorted(s.end_frame for s in p.segments("demo"))
        assert max(ends) == 280  # nothing lies outside the video
        # the file's seconds stay, so an export gives back what was imported
        assert sorted(p.segment_seconds(s)[1] for s in p.segments("demo")) == [2.0, 10.01, 12.0, 13.0]
        # importing the same file again adds nothing and reports nothing clipped
        again = import_annotations(p, src)
        assert again.segments == 0 and again.clipped == 0 and again.warning() is None


def test_an_import_that_fits_has_no_warning(shared_data, tmp_path):
    src = _csv(tmp_path / "gt.csv", [("jump", 0.0, 10.0)])
    with _located(tmp_path / "p", shared_data) as p:
        report = import_annotations(p, src)
        assert report.clipped == 0 and report.warning() is None and "clipped" not in report.summary()


def test_sdanet_import_prints_how_many_were_clipped(shared_data, tmp_path, capsys):
    folder = tmp_path / "p"
    _located(folder, shared_data).close()
    src = _csv(tmp_path / "gt.csv", [("jump", 9.5, 11.0), ("jump", 2.0, 3.0)])
    assert main(["import", "--project", str(folder), "--annotations", str(src)]) == 0
    out = capsys.readouterr().out
    assert "2 segments" in out and "1 clipped at the end of their video" in out
