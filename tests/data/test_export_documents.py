"""What the exported files look like to the tools that read them: ELAN's EAF 3.0 structure with
the media linked, our CSV columns with frames and provenance, THUMOS14 file names and lines,
the ActivityNet `database` document."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import pytest

from sdanet_gui.data.annotations import load_annotations, save_annotations
from sdanet_gui.data.structures import AnnotationSet, Segment, VideoAnnotation

EAF_ORDER = ["HEADER", "TIME_ORDER", "TIER", "LINGUISTIC_TYPE", "LOCALE", "LANGUAGE", "CONSTRAINT",
             "CONTROLLED_VOCABULARY", "LEXICON_REF", "EXTERNAL_REF"]


def _set():
    v1 = VideoAnnotation("clip_a", "test", 12.5, [
        Segment("Jump", 1.0, 3.0, meta={"start_frame": 25, "end_frame": 75, "provenance": "edited",
                                        "review_state": "done"}),
        Segment("Jump", 2.5, 4.0),           # overlaps the first: ELAN needs a second tier
        Segment("High Jump", 5.0, 6.2504, score=0.75),
    ], ambiguous=[(8.0, 9.0)], fps=25.0)
    v2 = VideoAnnotation("clip_b", "validation", 4.0, [], fps=None)
    return AnnotationSet({"clip_a": v1, "clip_b": v2}, ["Jump", "High Jump", "Swim"])


def test_elan_document_structure_and_media_link(tmp_path, sample_videos):
    media = sample_videos[0]
    out = save_annotations(_set(), tmp_path / "elan", "elan", media_paths={"clip_a": str(media)})
    root = ET.parse(out / "clip_a.eaf").getroot()
    assert root.tag == "ANNOTATION_DOCUMENT"
    assert root.get("FORMAT") == "3.0" and root.get("VERSION") == "3.0"
    assert root.get("AUTHOR") is not None and "T" in root.get("DATE")
    order = [EAF_ORDER.index(child.tag) for child in root]
    assert order == sorted(order)  # children in the schema's sequence
    header = root.find("HEADER")
    assert header.get("TIME_UNITS") == "milliseconds"
    md = header.find("MEDIA_DESCRIPTOR")
    assert md.get("MEDIA_URL") == media.absolute().as_uri() and md.get("MIME_TYPE").startswith("video/")
    assert (out / md.get("RELATIVE_MEDIA_URL")).resolve() == media.resolve()
    slots = {ts.get("TIME_SLOT_ID"): int(ts.get("TIME_VALUE")) for ts in root.iter("TIME_SLOT")}
    values = [int(ts.get("TIME_VALUE")) for ts in root.iter("TIME_SLOT")]
    assert values == sorted(values)
    tiers = {t.get("TIER_ID"): t for t in root.findall("TIER")}
    assert list(tiers) == ["Jump", "Jump #2", "High Jump", "Swim", "Ambiguous"]
    assert all(t.get("LINGUISTIC_TYPE_REF") == root.find("LINGUISTIC_TYPE").get("LINGUISTIC_TYPE_ID")
               for t in tiers.values())
    for tier in tiers.values():  # no overlap inside one tier
        spans = sorted((slots[a.get("TIME_SLOT_REF1")], slots[a.get("TIME_SLOT_REF2")])
                       for a in tier.iter("ALIGNABLE_ANNOTATION"))
        assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))
    high = tiers["High Jump"].find(".//ALIGNABLE_ANNOTATION")
    assert (slots[high.get("TIME_SLOT_REF1")], slots[high.get("TIME_SLOT_REF2")]) == (5000, 6250)
    assert high.findtext("ANNOTATION_VALUE") == "High Jump"
    ids = [a.get("ANNOTATION_ID") for a in root.iter("ALIGNABLE_ANNOTATION")]
    assert len(ids) == len(set(ids)) == 4
    back = load_annotations(out)
    assert back.videos["clip_a"].meta["media_path"] == str(media.absolute())
    assert back.classes == ["Jump", "High Jump", "Swim"]
    assert sorted(s.label for s in back.videos["clip_a"].segments) == ["High Jump", "Jump", "Jump"]
    # the video without a known media file is still a valid document, just without the link
    assert ET.parse(out / "clip_b.eaf").getroot().find("HEADER/MEDIA_DESCRIPTOR") is None


def test_csv_columns_frames_and_provenance(tmp_path):
    path = save_annotations(_set(), tmp_path / "a.csv", "csv")
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0])[:9] == ["video", "label", "start_s", "end_s", "start_frame", "end_frame", "score",
                                 "provenance", "review_state"]
    first = rows[0]
    assert (first["start_frame"], first["end_frame"], first["provenance"], first["review_state"]) == \
        ("25", "75", "edited", "done")
    second = rows[1]  # no frames in meta: derived from the video's 25 fps
    assert (second["start_frame"], second["end_frame"], second["score"]) == ("62", "100", "")
    assert rows[2]["score"] == "0.75"
    assert any(r["label"] == "Ambiguous" for r in rows)
    assert [r for r in rows if r["video"] == "clip_b"][0]["label"] == ""
    back = load_annotations(path)
    seg = back.videos["clip_a"].segments[0]
    assert seg.meta == {"start_frame": 25, "end_frame": 75, "provenance": "edited", "review_state": "done"}
    assert back.videos["clip_a"].segments[2].score == 0.75
    assert back.videos["clip_b"].duration == 4.0 and back.videos["clip_b"].segments == []


def test_csv_frames_without_seconds_use_fps(tmp_path):
    path = tmp_path / "frames.csv"
    path.write_text("video,label,start_s,end_s,start_frame,end_frame\nv1,Jump,,,50,100\n")
    aset = load_annotations(path, fps=25.0)
    seg = aset.videos["v1"].segments[0]
    assert (seg.start, seg.end) == (2.0, 4.0) and aset.videos["v1"].fps == 25.0


def test_thumos_files(tmp_path):
    out = save_annotations(_set(), tmp_path / "th", "thumos14")
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["Jump_test.txt", "High Jump_test.txt", "Swim_test.txt", "Ambiguous_test.txt",
                            "Jump_validation.txt", "High Jump_validation.txt", "Swim_validation.txt",
                            "Ambiguous_validation.txt", "detclasslist.txt", ".sdanet-export.json"])
    assert (out / "Jump_test.txt").read_text() == "clip_a 1.0 3.0\nclip_a 2.5 4.0\n"
    assert (out / "High Jump_test.txt").read_text() == "clip_a 5.0 6.2504\n"
    assert (out / "Ambiguous_test.txt").read_text() == "clip_a 8.0 9.0\n"
    assert load_annotations(out).classes == ["Jump", "High Jump", "Swim"]


def test_activitynet_document(tmp_path):
    path = save_annotations(_set(), tmp_path / "gt.json", "activitynet")
    doc = json.loads(path.read_text())
    entry = doc["database"]["clip_a"]
    assert entry["subset"] == "test" and entry["duration"] == 12.5
    assert entry["annotations"][0] == {"segment": [1.0, 3.0], "label": "Jump"}
    assert entry["ambiguous"] == [[8.0, 9.0]]
    assert doc["class_list"] == ["Jump", "High Jump", "Swim"]
    assert "duration" in doc["database"]["clip_b"] and doc["database"]["clip_b"]["annotations"] == []


def test_exporting_again_into_the_same_folder_drops_what_is_gone(tmp_path):
    for fmt in ("thumos14", "elan", "wtalc"):
        out = tmp_path / fmt
        out.mkdir()
        (out / "notes.md").write_text("mine")
        save_annotations(_set(), out, fmt)
        smaller = _set()
        del smaller.videos["clip_b"]
        smaller.classes = ["Jump", "High Jump"]
        smaller.videos["clip_a"].ambiguous = []
        smaller.videos["clip_a"].fps = None
        save_annotations(smaller, out, fmt)
        back = load_annotations(out)
        assert back.classes == ["Jump", "High Jump"], fmt
        assert list(back.videos) == ["clip_a"] and back.videos["clip_a"].ambiguous == [], fmt
        assert back.videos["clip_a"].fps is None, fmt
        assert len(back.videos["clip_a"].segments) == 3, fmt
        assert (out / "notes.md").read_text() == "mine"


@pytest.mark.parametrize("fmt,expected", [("activitynet", "activitynet"), ("csv", "csv")])
def test_an_export_saved_without_a_suffix_reads_back(tmp_path, fmt, expected):
    """`sdanet export --format activitynet --out gt` writes `gt`; reading it must still work."""
    from sdanet_gui.data.annotations import detect_format

    out = save_annotations(_set(), tmp_path / "exported", fmt)
    assert detect_format(out) == expected
    back = load_annotations(out)
    assert sorted(s.label for s in back.videos["clip_a"].segments) == ["High Jump", "Jump", "Jump"]
