"""ELAN annotation documents (EAF 3.0): one `.eaf` file per video, one tier per class.

Layout written (element order of the EAF 3.0 schema): ANNOTATION_DOCUMENT(AUTHOR, DATE, FORMAT,
VERSION) > HEADER(TIME_UNITS="milliseconds") with a MEDIA_DESCRIPTOR (MEDIA_URL as a file URI,
RELATIVE_MEDIA_URL relative to the .eaf) when the media path is known, and PROPERTY elements
`sdanet:subset`, `sdanet:duration_s`, `sdanet:fps`; TIME_ORDER of TIME_SLOTs in whole ms; one
TIER per class (empty tiers too) whose ALIGNABLE_ANNOTATIONs carry the class as value, plus an
`Ambiguous` tier for THUMOS14 ambiguous intervals; one LINGUISTIC_TYPE (time-alignable).
ELAN does not allow overlapping annotations on one tier, so instances of one class that
overlap go to extra tiers named `<Class> #2`, `#3`, ... (skipping ids that are class names);
the reader takes the class from the annotation value (falling back to the tier id without its
`#n` suffix when a foreign file leaves the value empty), and an empty tier's id is a class.

Times are rounded to ms (ELAN's unit). A folder is written as one set (`export_folder`): .eaf
files of an earlier export whose video is not in this one are removed, files this program did
not write are never touched without `force`. XML is parsed with the standard library's parser
(no external entities are resolved by it).
"""

from __future__ import annotations

import datetime as _dt
import mimetypes
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from .annotation_checks import (check_label, fail, make_interval, make_segment, parse_duration,
                                parse_fps, parse_optional_number)
from .export_folder import recover_for_reading, write_file_set
from .labels import is_ambiguous
from .structures import AnnotationSet, VideoAnnotation
from .thumos import AMBIGUOUS, format_time
from .units import milliseconds_to_seconds, seconds_to_milliseconds

LINGUISTIC_TYPE = "sdanet-action"
_OVERFLOW = re.compile(r"^(?P<cls>.*) #\d+$")


def write_folder(aset: AnnotationSet, folder: str | Path, media_paths: dict[str, str] | None = None,
                 *, force: bool = False) -> Path:
    """One .eaf per video, written as one set (`export_folder`): .eaf files of an earlier export
    whose video is not in this one are removed; files this program did not write are neither
    overwritten nor removed without `force`."""
    folder = Path(folder)
    classes = list(aset.classes) or aset.all_labels()
    for name in aset.videos:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise fail(folder, f"video {name!r}", "cannot be used as an .eaf file name")
    files = {}
    for name, video in aset.videos.items():
        media = (media_paths or {}).get(name) or video.meta.get("media_path")
        files[f"{name}.eaf"] = document(video, classes, folder / f"{name}.eaf", media)
    stale = [p.name for p in folder.glob("*.eaf")] if folder.is_dir() else []
    return write_file_set(folder, files, stale, force=force)


def document(video: VideoAnnotation, classes: list[str], target: Path, media: str | None) -> bytes:
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    root = ET.Element("ANNOTATION_DOCUMENT", {
        "AUTHOR": "sdanet-gui", "DATE": now, "FORMAT": "3.0", "VERSION": "3.0",
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"})
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    if media:
        mp = Path(media).absolute()
        try:
            rel = os.path.relpath(mp, target.parent.absolute())
        except ValueError:  # other drive on Windows
            rel = None
        attrs = {"MEDIA_URL": mp.as_uri(), "MIME_TYPE": mimetypes.guess_type(mp.name)[0] or "video/*"}
        if rel is not None:
            attrs["RELATIVE_MEDIA_URL"] = Path(rel).as_posix() if rel.startswith("..") else "./" + Path(rel).as_posix()
        ET.SubElement(header, "MEDIA_DESCRIPTOR", attrs)
    props = {"sdanet:subset": video.subset}
    if video.duration is not None:
        props["sdanet:duration_s"] = format_time(video.duration)
    if video.fps is not None:
        props["sdanet:fps"] = format_time(video.fps)
    tiers = _tiers(video, classes)
    n_ann = sum(len(items) for _, items in tiers)
    props["lastUsedAnnotationId"] = str(n_ann)
    for k, v in props.items():
        ET.SubElement(header, "PROPERTY", {"NAME": k}).text = v
    order = ET.SubElement(root, "TIME_ORDER")
    # time slots numbered in time order (as ELAN writes them); two per annotation
    times = [seconds_to_milliseconds(t) for _, items in tiers for _, start, end in items for t in (start, end)]
    rank = {i: k + 1 for k, i in enumerate(sorted(range(len(times)), key=lambda i: (times[i], i)))}
    for i in sorted(rank, key=rank.get):
        ET.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": f"ts{rank[i]}", "TIME_VALUE": str(times[i])})
    slot = ann_no = 0
    tier_elems = []
    for tier_id, items in tiers:
        tier = ET.Element("TIER", {"LINGUISTIC_TYPE_REF": LINGUISTIC_TYPE, "TIER_ID": tier_id})
        for label, _, _ in items:
            ann_no += 1
            ann = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), "ALIGNABLE_ANNOTATION", {
                "ANNOTATION_ID": f"a{ann_no}", "TIME_SLOT_REF1": f"ts{rank[slot]}",
                "TIME_SLOT_REF2": f"ts{rank[slot + 1]}"})
            ET.SubElement(ann, "ANNOTATION_VALUE").text = label
            slot += 2
        tier_elems.append(tier)
    root.extend(tier_elems)
    ET.SubElement(root, "LINGUISTIC_TYPE", {"GRAPHIC_REFERENCES": "false",
                                            "LINGUISTIC_TYPE_ID": LINGUISTIC_TYPE, "TIME_ALIGNABLE": "true"})
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _tiers(video: VideoAnnotation, classes: list[str]) -> list[tuple[str, list[tuple[str, float, float]]]]:
    """Tier id -> annotations, with overlapping instances of a class spread over extra tiers
    (`<Class> #2`, ...; a number whose id is itself a class name is skipped, so tier ids stay
    unique: the reader takes a class from the annotation values, not from the tier id)."""
    out: list[tuple[str, list]] = []
    taken = set(classes) | {s.label for s in video.segments} | {AMBIGUOUS}
    groups = [(c, [(s.label, s.start, s.end) for s in video.segments if s.label == c]) for c in classes]
    extra = sorted({s.label for s in video.segments} - set(classes))
    groups += [(c, [(s.label, s.start, s.end) for s in video.segments if s.label == c]) for c in extra]
    groups.append((AMBIGUOUS, [(AMBIGUOUS, a, b) for a, b in video.ambiguous]))
    for cls, items in groups:
        lanes: list[list] = []
        for item in sorted(items, key=lambda x: (x[1], x[2])):
            for lane in lanes:
                if seconds_to_milliseconds(lane[-1][2]) <= seconds_to_milliseconds(item[1]):
                    lane.append(item)
                    break
            else:
                lanes.append([item])
        if not lanes and cls == AMBIGUOUS:
            continue
        lanes = lanes or [[]]
        number = 1
        for i, lane in enumerate(lanes):
            tier_id = cls
            while i and tier_id in taken:
                number += 1
                tier_id = f"{cls} #{number}"
            taken.add(tier_id)
            out.append((tier_id, lane))
    return out


def read_file(path: str | Path) -> VideoAnnotation:
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise fail(path, "", "file not found") from None
    except ET.ParseError as exc:
        line, col = exc.position
        raise fail(path, f"line {line}, column {col}", f"not valid XML ({exc})") from None
    if root.tag != "ANNOTATION_DOCUMENT":
        raise fail(path, "", f"not an ELAN document (root element {root.tag!r})")
    header = root.find("HEADER")
    units = header.get("TIME_UNITS", "milliseconds") if header is not None else "milliseconds"
    if units != "milliseconds":
        raise fail(path, "HEADER", f"time units {units!r} are not supported (only milliseconds)")
    props = {p.get("NAME"): (p.text or "") for p in (header.findall("PROPERTY") if header is not None else [])}
    video = VideoAnnotation(name=path.stem, subset=props.get("sdanet:subset", ""),
                            duration=parse_duration(props.get("sdanet:duration_s"), path, "HEADER"),
                            fps=parse_fps(props.get("sdanet:fps"), path, "HEADER"))
    media = header.find("MEDIA_DESCRIPTOR") if header is not None else None
    if media is not None and media.get("MEDIA_URL"):
        url = media.get("MEDIA_URL")
        video.meta["media_url"] = url
        if url.startswith("file:"):
            video.meta["media_path"] = url2pathname(urlparse(url).path)
    slots = {}
    for ts in root.iter("TIME_SLOT"):
        if ts.get("TIME_VALUE") is not None:
            slots[ts.get("TIME_SLOT_ID")] = milliseconds_to_seconds(
                parse_optional_number(ts.get("TIME_VALUE"), path, f"time slot {ts.get('TIME_SLOT_ID')}", "time"))
    found = []
    for tier in root.findall("TIER"):
        tier_id = tier.get("TIER_ID", "")
        m = _OVERFLOW.match(tier_id)
        base = m.group("cls") if m else tier_id
        ambiguous = is_ambiguous(base)
        annotations = list(tier.iter("ALIGNABLE_ANNOTATION"))
        for ann in annotations:
            where = f"tier {tier_id!r}, annotation {ann.get('ANNOTATION_ID')}"
            r1, r2 = ann.get("TIME_SLOT_REF1"), ann.get("TIME_SLOT_REF2")
            if r1 not in slots or r2 not in slots:
                raise fail(path, where, "refers to a time slot without a time")
            if ambiguous:
                video.ambiguous.append(make_interval(slots[r1], slots[r2], path, where, video.duration))
                continue
            # the value is the class (ours always write it); a bare annotation takes its tier's
            label = (ann.findtext("ANNOTATION_VALUE") or "").strip() or base
            if is_ambiguous(label):
                video.ambiguous.append(make_interval(slots[r1], slots[r2], path, where, video.duration))
                continue
            seg = make_segment(label, slots[r1], slots[r2], path, where, duration=video.duration)
            found.append(seg)
            video.meta.setdefault("tiers", []).append(seg.label)
        if not annotations and not ambiguous:   # an empty tier: its id is the class
            video.meta.setdefault("tiers", []).append(check_label(tier_id, path, f"tier {tier_id!r}",
                                                                  "class name"))
    video.segments = sorted(found, key=lambda s: (s.start, s.end, s.label))
    return video


def read_folder(folder: str | Path) -> AnnotationSet:
    folder = Path(folder)
    if folder.is_dir():
        recover_for_reading(folder)
    files = sorted(folder.glob("*.eaf")) if folder.is_dir() else [folder]
    if not files:
        raise fail(folder, "", "no .eaf files found")
    videos, classes = {}, []
    for f in files:
        v = read_file(f)
        for c in v.meta.pop("tiers", []):
            if c not in classes:
                classes.append(c)
        videos[v.name] = v
    aset = AnnotationSet(videos=videos, classes=classes, source=str(folder))
    for c in aset.all_labels():
        if c not in aset.classes:
            aset.classes.append(c)
    return aset
