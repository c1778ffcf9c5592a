"""Times that cannot be right: milliseconds typed as seconds, 1e300, negative starts. They are
refused with the file and the row named, the same way in every format, before anything costs
memory or time; and a video's frame clock costs the same whatever time it reaches."""

from __future__ import annotations

import json
import tracemalloc
import warnings

import pytest

from sdanet_gui.cli import main
from sdanet_gui.data.annotations import load_annotations, save_annotations
from sdanet_gui.data.structures import AnnotationSet, Segment, VideoAnnotation
from sdanet_gui.errors import UserError
from sdanet_gui.project.exchange import export_annotations, import_annotations, locate_video_file
from sdanet_gui.project.store import Project

DEMO = "mmaction2__demo.mp4"  # 280 frames at 28 fps: 10.0 s


def _csv(path, rows, header="video,label,start_s,end_s"):
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("end", ["600000", "3e6", "1e12", "1e300"])
def test_milliseconds_typed_as_seconds_are_refused_naming_the_row(tmp_path, capsys, end):
    """One CSV row with end_s=600000 once took 26 s and 9.4 GB; 3e6 and 1e12 ended in a
    MemoryError traceback, 1e300 in a numpy warning and a 300-digit export."""
    src = _csv(tmp_path / "gt.csv", [("v", "Jump", 1.0, 2.0), ("v", "Jump", 100, end)])
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["import", "--project", str(tmp_path / "p"), "--annotations", str(src)])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"{src}: line 3: segment end is {float(end):g} s" in err and "48 hours" in err
    assert peak < 50e6
    with Project.open(tmp_path / "p", read_only=True) as p:
        assert p.videos() == []


def _with_start(start: float) -> AnnotationSet:
    video = VideoAnnotation("v1", "test", 30.0, [Segment("Jump", 1.0, 2.0), Segment("Jump", start, 5.0)])
    return AnnotationSet({"v1": video}, ["Jump"])


TARGETS = {"activitynet": "gt.json", "csv": "gt.csv", "thumos14": "thumos", "elan": "elan",
           "wtalc": "wtalc"}


@pytest.mark.parametrize("fmt", list(TARGETS))
def test_a_negative_start_is_refused_the_same_way_in_every_format(tmp_path, fmt):
    """Negative starts used to be stored at frame 0 and exported back as -3.0."""
    out = save_annotations(_with_start(-3.0), tmp_path / TARGETS[fmt], fmt)
    with pytest.raises(UserError) as err:
        load_annotations(out)
    msg = str(err.value)
    assert "segment start is -3 s, before the start of the video" in msg
    assert ("line" in msg) if fmt in ("csv", "thumos14") else ("v1" in msg or "segment" in msg)


def test_a_span_far_past_the_files_own_duration_is_refused(tmp_path):
    doc = {"database": {"v1": {"subset": "test", "duration": 120.0, "annotations": [
        {"segment": [1.0, 2.0], "label": "Jump"}, {"segment": [30.0, 45000.0], "label": "Jump"}]}}}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError) as err:
        load_annotations(path)
    assert "video 'v1', annotation 1" in str(err.value) and "far past the end of its video (120 s" in str(err.value)
    doc["database"]["v1"]["annotations"][1]["segment"] = [30.0, 480.0]  # 4x: real files do this
    path.write_text(json.dumps(doc))
    assert load_annotations(path).videos["v1"].segments[1].end == 480.0


def test_far_past_a_located_video_is_refused_nearer_is_clipped(shared_data, tmp_path):
    with Project.create(tmp_path / "p") as p:
        p.add_video("demo")
        locate_video_file(p, "demo", shared_data / "videos" / DEMO)
        far = _csv(tmp_path / "far.csv", [("demo", "jump", 1.0, 2.0), ("demo", "jump", 5.0, 800.0)])
        with pytest.raises(UserError) as err:
            import_annotations(p, far)
        assert f"{far}: line 3" in str(err.value) and "far past the end of its video (10 s" in str(err.value)
        assert p.segments("demo") == []
        near = _csv(tmp_path / "near.csv", [("demo", "jump", 8.0, 12.0)])
        assert import_annotations(p, near).clipped == 1


def test_a_provisional_clock_costs_the_same_at_any_time(tmp_path):
    """A video known only from a file gets a 1000-frames-per-second clock; reaching 27 hours
    used to build a table of 100 million frame times on every clock() call."""
    src = _csv(tmp_path / "gt.csv", [("v", "Jump", 1.5, 2.25), ("v", "Jump", 99000.0, 99999.5)])
    with Project.create(tmp_path / "p") as p:
        import_annotations(p, src)
        p.forget_clocks()
        tracemalloc.start()
        clock = p.clock("v")
        starts = sorted(p.segment_seconds(s)[0] for s in p.segments("v"))
        frames = p.seconds_to_frames("v", [99000.0, 99999.5], [99999.5, 99999.5])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 1e6
        assert clock.frame_count >= 99_999_500 and starts == [1.5, 99000.0]
        assert frames[0].tolist() == [99_000_000, 99_999_500]
        out = export_annotations(p, "csv", tmp_path / "back.csv")
    back = load_annotations(out).videos["v"].segments
    assert sorted((s.start, s.end) for s in back) == [(1.5, 2.25), (99000.0, 99999.5)]


def test_the_store_refuses_absurd_seconds_from_any_caller(tmp_path):
    with Project.create(tmp_path / "p") as p:
        p.add_classes(["Jump"])
        v = p.add_video("v")
        with pytest.raises(UserError) as err:
            p.add_imported_segments(v.id, [("Jump", 1.0, 1e300)])
        assert "1e+300 s" in str(err.value) and "'v'" in str(err.value)
        assert p.segments(v.id) == []
