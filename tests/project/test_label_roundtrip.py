"""Property: for any label a user can type, either the project refuses it at creation with one
clear sentence, or every export format reads back (through `sdanet import`'s path) to the same
classes and segments. Before: a raw BEL made invalid XML, newlines broke THUMOS14 file names,
surrounding spaces and 100,000-character labels did not come back."""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sdanet_gui.errors import UserError
from sdanet_gui.project.exchange import EXPORT_FORMATS, export_annotations, import_annotations
from sdanet_gui.project.store import Project

OUT = {"activitynet": "gt.json", "csv": "gt.csv"}

# what users type: letters of any script, spaces inside and around, punctuation a file name
# or CSV cell must survive, control characters, newlines, very long names
typed = st.one_of(
    st.text(min_size=0, max_size=24),
    st.text(alphabet=st.sampled_from(list("ab Jé,;\"'#%<>&_-.:*?|ü漢字😀\t\n\r\x07\x00/\\ ")), max_size=30),
    st.builds(lambda a, b, c: a + b + c, st.sampled_from(["", " ", "  ", "\t"]),
              st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12),
              st.sampled_from(["", " ", "\n", "\u00a0"])),
    st.sampled_from(["x" * 100_000, "é" * 61, "é" * 60, "Ambiguous", "ambiguous ", "Jump #2",
                     "Jump", "e\u0301t\u00e9", "a  b"]),
)

times_ms = st.integers(0, 3_000_000)   # ms: ELAN's resolution


@st.composite
def cases(draw):
    labels = draw(st.lists(typed, min_size=1, max_size=4))
    segs = []
    for _ in range(draw(st.integers(1, 6))):
        a, b = sorted(draw(st.tuples(times_ms, times_ms)))
        segs.append((draw(st.integers(0, len(labels) - 1)), a / 1000, b / 1000))
    return labels, segs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), fmt=st.sampled_from(EXPORT_FORMATS))
def test_every_label_is_refused_at_creation_or_comes_back_from_every_format(case, fmt):
    labels, segs = case
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Project.create(tmp / "a") as project:
            stored = []
            for raw in labels:
                try:
                    project.add_classes([raw])
                except UserError as exc:
                    msg = str(exc)
                    assert "class name" in msg and len(msg) < 400 and "\n" not in msg
                    continue
                name = unicodedata.normalize("NFC", raw.strip())   # stripped, NFC, nothing else
                assert name in project.classes()
                stored += [name] if name not in stored else []
            assume(stored)
            video = project.add_video("v_1", subset="test", duration=3001.0)
            rows = [(stored[i % len(stored)], a, b) for i, a, b in segs]
            project.add_imported_segments(video.id, rows)
            out = export_annotations(project, fmt, tmp / OUT.get(fmt, "folder"))
        with Project.create(tmp / "b") as back:
            import_annotations(back, out)
            kept = {r[0] for r in rows} if fmt == "csv" else set(stored)  # CSV has no class list
            assert kept <= set(back.classes())
            got = sorted((s.label, *back.segment_seconds(s)) for s in back.segments("v_1"))
    assert got == sorted(rows)


@pytest.mark.parametrize("raw,needle", [
    ("Jump\x07", "U+0007"), ("two\nlines", "U+000A"), ("tab\there", "U+0009"),
    ("x" * 100_000, "100000 characters"), ("a/b", "'/'"), ("Ambiguous", "reserved"), ("   ", "empty"),
])
def test_refused_labels_say_why(tmp_path, raw, needle):
    with Project.create(tmp_path / "p") as project:
        with pytest.raises(UserError) as err:
            project.add_classes([raw])
        assert needle in str(err.value) and len(str(err.value)) < 400
        assert project.classes() == []


def test_surrounding_spaces_are_stripped_and_the_class_found_either_way(tmp_path):
    with Project.create(tmp_path / "p") as project:
        assert project.add_classes(["  High Jump \u00a0"]) == ["High Jump"]
        assert project.class_id("  High Jump ") == project.class_id("High Jump")


def test_an_import_names_the_row_of_a_bad_label(tmp_path):
    src = tmp_path / "gt.csv"
    src.write_text('video,label,start_s,end_s\nv,Jump,1,2\nv,"bell\x07",3,4\n')
    with Project.create(tmp_path / "p") as project:
        with pytest.raises(UserError) as err:
            import_annotations(project, src)
        assert f"{src}: line 3: label 'bell\\x07' contains U+0007" in str(err.value)
        assert project.classes() == []


def test_an_import_says_when_it_stripped_spaces_around_labels(tmp_path):
    import json

    src = tmp_path / "gt.json"
    src.write_text(json.dumps({"database": {"v": {"subset": "test", "annotations": [
        {"segment": [1, 2], "label": " Jump "}, {"segment": [3, 4], "label": "Jump"}]}}}))
    with Project.create(tmp_path / "p") as project:
        report = import_annotations(project, src)
        assert project.classes() == ["Jump"] and report.segments == 2
        assert "1 label stored without the spaces around them" in report.summary()
