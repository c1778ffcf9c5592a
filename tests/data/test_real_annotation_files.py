"""The real annotation files of tests/assets/annotations load with the counts SOURCES.md
states, and go out through every writer and back in without losing or shifting a segment."""

from __future__ import annotations

import numpy as np
import pytest

from sdanet_gui.data.annotations import detect_format, load_annotations, save_annotations

THUMOS_CLASSES = ["BaseballPitch", "BasketballDunk", "Billiards", "CleanAndJerk", "CliffDiving",
                  "CricketBowling", "CricketShot", "Diving", "FrisbeeCatch", "GolfSwing", "HammerThrow",
                  "HighJump", "JavelinThrow", "LongJump", "PoleVault", "Shotput", "SoccerPenalty",
                  "TennisSwing", "ThrowDiscus", "VolleyballSpiking"]


def _count(aset):
    return (len(aset.videos), sum(len(v.segments) for v in aset.videos.values()),
            sum(len(v.ambiguous) for v in aset.videos.values()))


def test_thumos14_test_folder_matches_the_published_counts(annotations_dir):
    aset = load_annotations(annotations_dir / "thumos14_cmcs" / "test")
    assert _count(aset) == (213, 3358, 99)
    assert aset.classes == THUMOS_CLASSES
    with_segments = [v for v in aset.videos.values() if v.segments]
    assert len(with_segments) == 212  # one video has only ambiguous intervals
    first = aset.videos["video_test_0000324"].segments[0]
    assert (first.label, first.start, first.end) == ("BaseballPitch", 49.2, 53.5)
    assert {v.subset for v in aset.videos.values()} == {"test"}
    assert all(v.duration is None for v in aset.videos.values())


def test_thumos14_root_folder_reads_both_subsets_and_val_means_validation(annotations_dir):
    aset = load_annotations(annotations_dir / "thumos14_cmcs")
    val = aset.subset("validation")
    n, segs, amb = _count(val)
    assert segs + amb == 3096 and n == 200
    assert len(aset.subset("test").videos) == 213


def test_single_thumos_class_file(annotations_dir):
    aset = load_annotations(annotations_dir / "thumos14_cmcs" / "test" / "BaseballPitch_test.txt")
    lines = [ln for ln in (annotations_dir / "thumos14_cmcs" / "test" / "BaseballPitch_test.txt")
             .read_text().splitlines() if ln.strip()]
    assert aset.classes == ["BaseballPitch"]
    assert sum(len(v.segments) for v in aset.videos.values()) == len(lines)


def test_gtad_json_string_segments(annotations_dir):
    aset = load_annotations(annotations_dir / "thumos14_gtad" / "thumos_gt.json")
    assert _count(aset)[:2] == (410, 6318)
    subsets = [v.subset for v in aset.videos.values()]
    assert subsets.count("train") == 200 and subsets.count("test") == 210
    seg = aset.videos["video_test_0000896"].segments[0]
    assert (seg.label, seg.start, seg.end) == ("HighJump", 18.6, 24.8)
    assert isinstance(seg.start, float)


def test_gtad_csv_equals_the_thumos_test_files(annotations_dir, differences):
    gtad = load_annotations(annotations_dir / "thumos14_gtad" / "test_Annotation.csv")
    assert detect_format(annotations_dir / "thumos14_gtad" / "test_Annotation.csv") == "gtad_csv"
    assert _count(gtad) == (213, 3358, 99)
    assert {v.subset for v in gtad.videos.values()} == {"test"}
    first = gtad.videos["video_test_0000004"].segments[0]
    assert first.meta["start_frame"] == 6 and first.meta["end_frame"] == 33
    cmcs = load_annotations(annotations_dir / "thumos14_cmcs" / "test")
    assert differences(cmcs, gtad) == []


def test_activitynet_bare_layout(annotations_dir):
    aset = load_annotations(annotations_dir / "activitynet13_subset_mmaction2" / "gt.json")
    assert _count(aset) == (2, 4, 0)
    assert aset.videos["v_bYUmtLBL7W4"].duration == 224.49
    assert [s.label for s in aset.videos["v_bYUmtLBL7W4"].segments] == ["Wakeboarding"] * 3
    assert aset.classes == ["Cleaning shoes", "Wakeboarding"]


def test_wtalc_folder(annotations_dir, differences):
    aset = load_annotations(annotations_dir / "thumos14reduced_wtalc")
    n, segs, _ = _count(aset)
    assert n == 412 and segs == 6365
    subsets = [v.subset for v in aset.videos.values()]
    assert subsets.count("validation") == 200 and subsets.count("test") == 212
    assert aset.classes == THUMOS_CLASSES
    assert aset.videos["video_validation_0000051"].duration == pytest.approx(169.794)
    assert aset.videos["video_validation_0000051"].fps == 30.0
    # the same instances as the original THUMOS txt files, ambiguous intervals of the test videos
    cmcs = load_annotations(annotations_dir / "thumos14_cmcs")
    cmcs.videos = {k: v for k, v in cmcs.videos.items() if k in aset.videos}
    for v in cmcs.videos.values():
        if v.subset == "validation":
            v.ambiguous = []  # W-TALC ships Ambiguous_test.txt only
    assert differences(cmcs, aset) == []


def test_wtalc_labels_stored_as_bytes_load_the_same(annotations_dir, tmp_path):
    src = annotations_dir / "thumos14reduced_wtalc"
    for f in src.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    labels = np.load(src / "labels.npy", allow_pickle=True)
    as_bytes = np.empty(len(labels), dtype=object)
    for i, labs in enumerate(labels):
        as_bytes[i] = [lab.encode() for lab in labs]
    np.save(tmp_path / "labels.npy", as_bytes, allow_pickle=True)
    a, b = load_annotations(src), load_annotations(tmp_path)
    assert [[s.label for s in v.segments] for v in a.videos.values()] == \
           [[s.label for s in v.segments] for v in b.videos.values()]


def test_wtalc_export_reproduces_the_original_arrays(annotations_dir, tmp_path):
    src = annotations_dir / "thumos14reduced_wtalc"
    save_annotations(load_annotations(src), tmp_path, "wtalc")
    for name in ("videoname", "subset", "classlist", "duration", "original_fps"):
        want, got = np.load(src / f"{name}.npy"), np.load(tmp_path / f"{name}.npy")
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert np.array_equal(got, want), name
    for name in ("labels", "labels_all", "segments"):
        want = np.load(src / f"{name}.npy", allow_pickle=True)
        got = np.load(tmp_path / f"{name}.npy", allow_pickle=True)
        assert got.dtype == object and got.shape == want.shape, name
        assert [list(x) for x in got] == [list(x) for x in want], name
    known = {n.decode() for n in np.load(src / "videoname.npy")}
    want_amb = [(p[0], float(p[1]), float(p[2])) for p in map(str.split, (src / "Ambiguous_test.txt")
                .read_text().splitlines()) if p and p[0] in known]
    got_amb = [(p[0], float(p[1]), float(p[2])) for p in map(str.split, (tmp_path / "Ambiguous_test.txt")
               .read_text().splitlines()) if p]
    assert sorted(got_amb) == sorted(want_amb)


# every real file -> every applicable writer -> read back
SOURCES = ["thumos14_cmcs", "thumos14_gtad/test_Annotation.csv", "thumos14_gtad/thumos_gt.json",
           "activitynet13_subset_mmaction2/gt.json", "thumos14reduced_wtalc"]
TARGETS = {"activitynet": "gt.json", "thumos14": "thumos", "csv": "table.csv", "gtad_csv": "gtad.csv",
           "elan": "elan", "wtalc": "wtalc"}
# formats that only list instances, so a video without any is not written
LISTS_INSTANCES = {"thumos14", "gtad_csv"}
# ELAN writes one fsynced file per video (10-30 ms each on a busy disk): the THUMOS14 sets (400+
# videos) go through it on their first 50 videos to keep the suite inside its time budget
ELAN_VIDEOS = 50


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("fmt", list(TARGETS))
def test_real_file_round_trip(annotations_dir, tmp_path, differences, source, fmt):
    aset = load_annotations(annotations_dir / source)
    if fmt == "wtalc" and any(v.duration is None for v in aset.videos.values()):
        with pytest.raises(Exception, match="has no duration"):
            save_annotations(aset, tmp_path / TARGETS[fmt], fmt)
        assert not (tmp_path / TARGETS[fmt] / "videoname.npy").exists()
        return
    if fmt == "elan":
        aset.videos = dict(list(aset.videos.items())[:ELAN_VIDEOS])
    out = save_annotations(aset, tmp_path / TARGETS[fmt], fmt)
    back = load_annotations(out)
    assert differences(aset, back, annotated_only=fmt in LISTS_INSTANCES) == []
    assert back.classes == aset.classes or fmt in ("csv", "gtad_csv")
    assert set(aset.all_labels()) == set(back.all_labels())
    if fmt not in ("gtad_csv",):
        assert all(back.videos[n].subset == v.subset for n, v in aset.videos.items() if n in back.videos)
    if fmt in ("activitynet", "csv", "elan", "wtalc"):
        assert all(back.videos[n].duration == pytest.approx(v.duration) if v.duration is not None
                   else back.videos[n].duration is None for n, v in aset.videos.items())
