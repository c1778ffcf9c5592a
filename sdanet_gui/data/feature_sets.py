"""Feature sets: per-snippet features [T, D] of many videos plus their annotations and the spec
that ties snippets to time - in the layouts the research community and our tools write.

Layouts, detected from the path:
  (a) W-TALC bundle: a folder with `<Name>-I3D-JOINTFeatures.npy` (object array of [T, D], RGB
      columns first) and `<Name>-Annotations/` (see `wtalc`), or the .npy file itself.
  (b) per-video folder: `features/<video>.npy` ([T, D]), or `features/<video>_rgb.npy` +
      `features/<video>_flow.npy` (concatenated rgb then flow, truncated to the shorter T, since
      flow extractors often give one snippet less), or `features/<video>.h5` (feature_files
      layout), or one `.h5` set file in the folder; next to `annotations.json` (ActivityNet,
      optional top-level keys fps, snippet_frames, stride_frames, feature_dim, modalities,
      class_list, train_subset, test_subset).
  (c) one `.h5` set file (feature_files layout), annotations from the `annotations` argument or
      an `annotations.json` beside it.
The `annotations` argument may name any annotation source `load_annotations` reads (e.g. the
THUMOS14 txt folder).

The feature spec comes from the data (h5 spec attributes, annotations.json keys), else from the
`spec` argument (a preset); this module never assumes a frame rate or a dimension. The feature
dimension always comes from the arrays, and must agree with `spec.feature_dim` when a spec is
given. Train/test subsets: explicit arguments > data keys > preset_subsets > the known
conventions (THUMOS14 validation/test, ActivityNet training/validation).
Per-video files are read lazily (`FeatureVideo._loader`); only headers are read here, so a
wrong shape is found at load time with the file named. Never unpickles: W-TALC object arrays go
through `wtalc` and its restricted unpickler (`safe_npy`), everything else is allow_pickle=False.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import atomic_open
from .annotation_checks import check_labels, fail
from .structures import AnnotationSet, FeatureSet, FeatureVideo, VideoAnnotation
from .units import FeatureSpec

log = logging.getLogger(__name__)

FEATURES_DIR = "features"
ANNOTATIONS_FILE = "annotations.json"
SPEC_KEYS = ("fps", "snippet_frames", "stride_frames")
KNOWN_SPLITS = (("validation", "test"), ("training", "validation"), ("train", "test"),
                ("train", "val"), ("training", "testing"))


@dataclass
class _Source:
    """Where one video's features are and what their header says."""

    file: Path
    num_snippets: int
    dim: int
    loader: Callable[[], np.ndarray]
    modalities: tuple[tuple[str, int], ...] | None = None  # from the data (rgb/flow files, h5 spec)
    spec: dict | None = None  # fps etc. from the data (h5 spec attributes)


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def load_feature_set(path: str | Path, *, spec: FeatureSpec | None = None,
                     annotations: str | Path | AnnotationSet | None = None,
                     train_subset: str | None = None, test_subset: str | None = None,
                     preset_subsets: tuple[str, str] | None = None,
                     default_spec: FeatureSpec | None = None) -> FeatureSet:
    """Load a feature set (layouts in the module docstring).

    spec: the spec the caller requires (a preset or checkpoint): fills what the data does not
      say, and the arrays' dimension must equal `spec.feature_dim` (UserError naming the file).
    default_spec: a softer fallback (e.g. a preset used for data of any dimension): fills fps /
      snippet / stride the data does not say; its modalities are used only if they add up to the
      arrays' dimension, otherwise the arrays' dimension is split as the data implies.
    """
    from .annotations import load_annotations
    from . import wtalc

    path = Path(path)
    if not path.exists():
        raise fail(path, "", "feature set not found")
    bundle = _bundle_features_file(path)
    if bundle is not None:
        name = bundle.name[: -len(wtalc.FEATURES_SUFFIX)]
        ann_dir = bundle.parent / f"{name}{wtalc.ANNOTATIONS_SUFFIX}"
        if not wtalc.is_wtalc_folder(ann_dir):
            raise fail(bundle, "", f"the W-TALC annotation folder {ann_dir.name}/ is missing next to it")
        order = wtalc.read_folder(ann_dir)
        aset = order if annotations is None else _annotations(annotations, load_annotations)
        sources = _bundle_sources(bundle, list(order.videos))
    elif path.is_file() and path.suffix.lower() in (".h5", ".hdf5"):
        aset = _annotations(annotations if annotations is not None else _default_annotations(path.parent, path),
                            load_annotations)
        sources = _set_file_sources(path)
    elif path.is_dir():
        aset = _annotations(annotations if annotations is not None else _default_annotations(path, path),
                            load_annotations)
        sources = _folder_sources(path)
    else:
        raise fail(path, "", "not a feature set (expected a W-TALC bundle folder, a folder with "
                             f"{FEATURES_DIR}/ and {ANNOTATIONS_FILE}, or an .h5 feature file)")
    final_spec = _resolve_spec(path, sources, aset.info, spec, default_spec)
    train, test = choose_subsets({v.subset for v in aset.videos.values()}, train_subset, test_subset,
                                 aset.info, preset_subsets, aset.source or path)
    classes = list(aset.classes) or aset.all_labels()
    check_labels(aset, classes, aset.source or path)
    videos, skipped = [], []
    for name, ann in aset.videos.items():
        src = sources.get(name)
        if src is None:
            skipped.append(name)
            continue
        videos.append(FeatureVideo(name=name, annotation=ann, _loader=_finite(src, name),
                                   num_snippets=src.num_snippets))
    if skipped:
        log.warning("%s: %d annotated video(s) have no features and are skipped (e.g. %s)",
                    path, len(skipped), ", ".join(skipped[:3]))
    extra = len(set(sources) - set(aset.videos))
    if extra:
        log.info("%s: %d feature file(s) have no annotation entry and are ignored", path, extra)
    if not videos:
        raise fail(path, "", f"none of the {len(aset.videos)} annotated videos has features")
    return FeatureSet(spec=final_spec, classes=classes, videos=videos, train_subset=train,
                      test_subset=test, source=str(path), skipped=skipped)


def _annotations(src, load_annotations) -> AnnotationSet:
    return src if isinstance(src, AnnotationSet) else load_annotations(src)


def _default_annotations(folder: Path, shown: Path) -> Path:
    candidate = folder / ANNOTATIONS_FILE
    if not candidate.is_file():
        raise fail(shown, "", f"no {ANNOTATIONS_FILE} found next to the features; give the annotations")
    return candidate


def _bundle_features_file(path: Path) -> Path | None:
    from . import wtalc

    if path.is_file() and path.name.endswith(wtalc.FEATURES_SUFFIX):
        return path
    if path.is_dir():
        found = sorted(path.glob(f"*{wtalc.FEATURES_SUFFIX}"))
        if len(found) > 1:
            raise fail(path, "", f"holds {len(found)} W-TALC feature files; pass one of them: "
                                 + ", ".join(p.name for p in found))
        return found[0] if found else None
    return None


def _bundle_sources(bundle: Path, names: list[str]) -> dict[str, _Source]:
    from . import wtalc

    feats = wtalc.load_bundle_features(bundle)
    if len(feats) != len(names):
        raise fail(bundle, "", f"holds {len(feats)} videos but videoname.npy lists {len(names)}")
    out = {}
    for i, (name, f) in enumerate(zip(names, feats)):
        f = np.asarray(f)
        _check_2d(f.shape, bundle, f"video {i} ({name!r})")
        out[name] = _Source(bundle, f.shape[0], f.shape[1], _const_loader(f))
    return out


def _finite(src: _Source, name: str) -> Callable[[], np.ndarray]:
    """The source's loader, refusing features that hold NaN or Inf: the network turns them into
    NaN scores, and localization then finds nothing (0 segments and no error, before this)."""
    def load() -> np.ndarray:
        arr = src.loader()
        bad = ~np.isfinite(arr)
        if bad.any():
            snippet = int(np.flatnonzero(bad.reshape(arr.shape[0], -1).any(axis=1))[0])
            raise fail(src.file, f"video {name!r}", f"snippet {snippet} of {arr.shape[0]} holds "
                                                   "NaN or Inf; features must be finite numbers")
        return arr
    return load


def _const_loader(arr: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: np.asarray(arr, dtype=np.float32)


def _check_2d(shape, file: Path, entry: str) -> None:
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise fail(file, entry, f"features have shape {tuple(shape)}, expected [T, D] with T, D >= 1")


def _npy_shape(path: Path) -> tuple[int, ...]:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise fail(path, "", f"not a readable .npy feature file ({exc})") from None
    return tuple(arr.shape)


def _npy_loader(path: Path) -> Callable[[], np.ndarray]:
    return lambda: np.load(path, allow_pickle=False).astype(np.float32, copy=False)


def _pair_loader(rgb: Path, flow: Path, t: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        a = np.load(rgb, allow_pickle=False)[:t]
        b = np.load(flow, allow_pickle=False)[:t]
        return np.concatenate([a, b], axis=1).astype(np.float32, copy=False)
    return load


def _folder_sources(folder: Path) -> dict[str, _Source]:
    fdir = folder / FEATURES_DIR
    if fdir.is_dir():
        return _features_dir_sources(fdir)
    sets = sorted(list(folder.glob("*.h5")) + list(folder.glob("*.hdf5")))
    if len(sets) == 1:
        return _set_file_sources(sets[0])
    if len(sets) > 1:
        raise fail(folder, "", f"holds {len(sets)} .h5 files; pass the one to use")
    raise fail(folder, "", f"no features found (expected a {FEATURES_DIR}/ folder or one .h5 file)")


def _features_dir_sources(fdir: Path) -> dict[str, _Source]:
    out: dict[str, _Source] = {}
    npys = {p.stem: p for p in sorted(fdir.glob("*.npy"))}
    for stem, p in npys.items():
        if stem.endswith("_flow") and stem[:-5] + "_rgb" in npys:
            continue
        if stem.endswith("_rgb") and stem[:-4] + "_flow" in npys:
            name = stem[:-4]
            flow = npys[name + "_flow"]
            rs, fs = _npy_shape(p), _npy_shape(flow)
            _check_2d(rs, p, "")
            _check_2d(fs, flow, "")
            t = min(rs[0], fs[0])
            if rs[0] != fs[0]:
                log.debug("%s: rgb has %d snippets, flow %d; using %d", name, rs[0], fs[0], t)
            src = _Source(p, t, rs[1] + fs[1], _pair_loader(p, flow, t),
                          modalities=(("rgb", rs[1]), ("flow", fs[1])))
        else:
            name, shape = stem, _npy_shape(p)
            _check_2d(shape, p, "")
            src = _Source(p, shape[0], shape[1], _npy_loader(p))
        _add(out, name, src)
    for p in sorted(list(fdir.glob("*.h5")) + list(fdir.glob("*.hdf5"))):
        shape, spec, vname = _h5_header(p)
        _add(out, p.stem, _Source(p, shape[0], shape[1], _h5_file_loader(p),
                                  modalities=_mods(spec), spec=spec))
    if not out:
        raise fail(fdir, "", "no .npy or .h5 feature files in this folder")
    return out


def _add(out: dict, name: str, src: _Source) -> None:
    if name in out:
        raise fail(src.file, "", f"features of video {name!r} are given twice (also {out[name].file.name})")
    out[name] = src


def _mods(spec: dict | None):
    if not spec or not spec.get("modalities"):
        return None
    return tuple((str(n), int(d)) for n, d in spec["modalities"])


def _h5_spec(attrs, file: Path) -> dict | None:
    if "spec" not in attrs:
        return None
    raw = attrs["spec"]
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except json.JSONDecodeError as exc:
        raise fail(file, "spec attribute", f"not valid JSON ({exc.msg})") from None
    except (RecursionError, UnicodeDecodeError) as exc:
        raise fail(file, "spec attribute", f"not readable JSON ({type(exc).__name__})") from None


def _h5_header(path: Path) -> tuple[tuple[int, int], dict | None, str]:
    import h5py

    try:
        with h5py.File(path, "r") as h:
            if "features" in h:
                node, attrs, name = h["features"], h.attrs, path.stem
            elif len(h.keys()) == 1:
                key = next(iter(h.keys()))
                node = h[key] if isinstance(h[key], h5py.Dataset) else h[key]["features"]
                attrs, name = h[key].attrs, key
            else:
                raise fail(path, "", f"holds {len(h.keys())} entries; a per-video file holds one")
            shape = tuple(node.shape)
            spec = _h5_spec(attrs, path)
    except OSError as exc:
        raise fail(path, "", f"not a readable HDF5 feature file ({exc})") from None
    except KeyError as exc:
        raise fail(path, "", f"no 'features' dataset ({exc})") from None
    _check_2d(shape, path, "")
    return shape, spec, name


def _h5_file_loader(path: Path) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from .feature_files import read_feature_file

        return read_feature_file(path).features
    return load


def _set_file_sources(path: Path) -> dict[str, _Source]:
    import h5py

    out: dict[str, _Source] = {}
    try:
        with h5py.File(path, "r") as h:
            if "features" in h:
                raise fail(path, "", "is a single-video feature file, not a feature set; put it in "
                                     f"a {FEATURES_DIR}/ folder")
            for key in h.keys():
                node = h[key]
                if isinstance(node, h5py.Dataset):
                    shape, attrs, inner = node.shape, node.attrs, None
                elif "features" in node:
                    shape, attrs, inner = node["features"].shape, node.attrs, "features"
                else:
                    raise fail(path, f"entry {key!r}", "has no 'features' dataset")
                _check_2d(shape, path, f"video {key!r}")
                spec = _h5_spec(attrs, path)
                out[key] = _Source(path, shape[0], shape[1], _set_loader(path, key, inner),
                                   modalities=_mods(spec), spec=spec)
    except OSError as exc:
        raise fail(path, "", f"not a readable HDF5 feature file ({exc})") from None
    if not out:
        raise fail(path, "", "holds no videos")
    return out


def _set_loader(path: Path, key: str, inner: str | None) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import h5py

        with h5py.File(path, "r") as h:
            node = h[key] if inner is None else h[key][inner]
            return np.asarray(node[()], dtype=np.float32)
    return load


# --------------------------------------------------------------------------------------------
# spec and subsets
# --------------------------------------------------------------------------------------------
def _resolve_spec(path: Path, sources: dict[str, _Source], info: dict, spec: FeatureSpec | None,
                  default_spec: FeatureSpec | None = None) -> FeatureSpec:
    dims = {}
    for name, src in sources.items():
        dims.setdefault(src.dim, (name, src.file))
    if len(dims) > 1:
        (d1, (n1, f1)), (d2, (n2, f2)) = list(dims.items())[:2]
        raise fail(f2, f"video {n2!r}", f"features have {d2} dims but {f1.name} (video {n1!r}) has {d1}")
    dim, (first_name, first_file) = next(iter(dims.items()))
    # data: the h5 spec attributes, then annotations.json keys
    data: dict = {}
    file_specs = {json.dumps({k: s.spec.get(k) for k in SPEC_KEYS}) for s in sources.values() if s.spec}
    if len(file_specs) > 1:
        raise fail(path, "", "feature files disagree on fps / snippet_frames / stride_frames")
    for src in sources.values():
        if src.spec:
            data.update({k: src.spec[k] for k in SPEC_KEYS if k in src.spec})
            break
    data.update({k: info[k] for k in SPEC_KEYS if k in info})
    base = spec if spec is not None else default_spec
    merged = {k: getattr(base, k) for k in SPEC_KEYS} if base is not None else {}
    merged.update(data)
    if "fps" not in merged or "snippet_frames" not in merged:
        raise fail(path, "", "the data does not say its feature spec (fps, snippet_frames); "
                             "choose a preset or give fps and snippet frames")
    if "feature_dim" in info and int(info["feature_dim"]) != dim:
        raise fail(first_file, f"video {first_name!r}",
                   f"features have {dim} dims but the annotations say feature_dim {info['feature_dim']}")
    if spec is not None and spec.feature_dim != dim:
        raise fail(first_file, f"video {first_name!r}",
                   f"features have {dim} dims but the feature spec expects {spec.feature_dim}")
    mods = next((s.modalities for s in sources.values() if s.modalities), None)
    if mods is None and info.get("modalities"):
        mods = tuple((str(n), int(d)) for n, d in info["modalities"])
    if mods is None and spec is not None:
        mods = spec.modalities
    if mods is None and default_spec is not None and default_spec.feature_dim == dim:
        mods = default_spec.modalities
    if mods is None:
        mods = (("rgb", dim // 2), ("flow", dim - dim // 2)) if dim % 2 == 0 else (("features", dim),)
    if sum(d for _, d in mods) != dim:
        raise fail(first_file, f"video {first_name!r}",
                   f"features have {dim} dims but the modalities {list(mods)} add up to "
                   f"{sum(d for _, d in mods)}")
    try:
        return FeatureSpec(fps=float(merged["fps"]), snippet_frames=int(merged["snippet_frames"]),
                           stride_frames=int(merged.get("stride_frames") or merged["snippet_frames"]),
                           modalities=tuple(mods))
    except (TypeError, ValueError) as exc:
        raise fail(path, "feature spec", str(exc)) from None


def choose_subsets(present: set[str], train: str | None, test: str | None, info: dict,
                   preset_subsets: tuple[str, str] | None, source) -> tuple[str, str]:
    """(train, test) subset names: explicit > data keys > preset (if present) > conventions.

    An explicitly given subset must exist; one named by the data may be empty (warning), e.g. a
    folder written for fine-tuning that holds training videos only.
    """
    found = ", ".join(sorted(present)) or "none"
    picks = []
    for i, (explicit, key) in enumerate(((train, "train_subset"), (test, "test_subset"))):
        for candidate, given in ((explicit, True), (info.get(key), False)):
            if candidate:
                if candidate not in present and given:
                    raise fail(source, "", f"subset {candidate!r} (given) is not in the data (found: {found})")
                if candidate not in present:
                    log.warning("%s: '%s' names subset %r, which has no videos (found: %s)",
                                source, key, candidate, found)
                picks.append(candidate)
                break
        else:
            picks.append(None)
    if None not in picks:          # both named (explicitly or by the data): no guessing, no warning
        return picks[0], picks[1]
    fallback = None
    if preset_subsets and set(preset_subsets) <= present:
        fallback = tuple(preset_subsets)
    if fallback is None:
        fallback = next((pair for pair in KNOWN_SPLITS if set(pair) <= present), None)
    if fallback is None and len(present) == 1:
        only = next(iter(present))
        # Warn only about what was guessed: a role that was named keeps its name silently.
        guessed = [role for role, pick in zip(("training", "testing"), picks) if pick is None]
        if len(guessed) == 2:
            log.warning("%s: only subset %r; it is used for both training and testing", source, only)
        else:
            log.warning("%s: no %s subset named; using the only subset %r for %s too",
                        source, guessed[0], only, guessed[0])
        fallback = (only, only)
    if fallback is None:
        raise fail(source, "", f"cannot tell which subsets train and test (found: {found}); "
                               "name them (train/test subset)")
    return (picks[0] or fallback[0], picks[1] or fallback[1])


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _check_arrays(spec: FeatureSpec, videos: dict, where: Path) -> None:
    for name, (arr, _) in videos.items():
        a = np.asarray(arr)
        if a.ndim != 2 or a.shape[1] != spec.feature_dim or a.shape[0] < 1:
            raise fail(where, f"video {name!r}", f"features have shape {a.shape}, expected "
                                                 f"[T, {spec.feature_dim}]")


def _annotation_set(classes, videos: dict, source: str) -> AnnotationSet:
    anns = {}
    for name, (_, ann) in videos.items():
        if ann.name != name:
            ann = VideoAnnotation(name, ann.subset, ann.duration, ann.segments, ann.ambiguous, ann.fps, ann.meta)
        anns[name] = ann
    return AnnotationSet(videos=anns, classes=list(classes), source=source)


def write_pervideo_feature_set(out_dir: str | Path, spec: FeatureSpec, classes: list[str],
                               videos: dict[str, tuple[np.ndarray, VideoAnnotation]],
                               train_subset: str, test_subset: str, *, layout: str = "npy") -> Path:
    """Write `out_dir/features/` + `out_dir/annotations.json` (with the spec and subsets).

    layout: "npy" (`<video>.npy`), "rgb_flow" (`<video>_rgb.npy` + `<video>_flow.npy`, needs two
    modalities), "h5" (`<video>.h5` per video, feature_files layout) or "set_h5" (one
    `features.h5` set file in out_dir, no features/ folder). Every file is written atomically.
    """
    from . import activitynet
    from .feature_files import FeatureFile, write_feature_file

    out = Path(out_dir)
    _check_arrays(spec, videos, out)
    aset = _annotation_set(classes, videos, str(out / ANNOTATIONS_FILE))
    check_labels(aset, classes, out / ANNOTATIONS_FILE)
    if layout == "rgb_flow" and len(spec.modalities) != 2:
        raise ValueError("layout 'rgb_flow' needs a spec with two modalities")
    fdir = out / FEATURES_DIR
    if layout == "set_h5":
        _write_set_h5(out / "features.h5", spec, videos)
    for name, (arr, ann) in videos.items():
        a = np.asarray(arr, dtype=np.float32)
        if layout == "npy":
            _save_npy(fdir / f"{name}.npy", a)
        elif layout == "rgb_flow":
            sl = spec.modality_slices()
            (n1, _), (n2, _) = spec.modalities
            _save_npy(fdir / f"{name}_rgb.npy", a[:, sl[n1]])
            _save_npy(fdir / f"{name}_flow.npy", a[:, sl[n2]])
        elif layout == "h5":
            write_feature_file(fdir / f"{name}.h5", FeatureFile(
                video_name=name, features=a, spec=spec,
                duration_s=float(ann.duration) if ann.duration is not None else float("nan")))
        elif layout != "set_h5":
            raise ValueError(f"unknown layout {layout!r}")
    extra = {"fps": spec.fps, "snippet_frames": spec.snippet_frames, "stride_frames": spec.stride_frames,
             "feature_dim": spec.feature_dim, "modalities": [[n, d] for n, d in spec.modalities],
             "train_subset": train_subset, "test_subset": test_subset}
    activitynet.write_gt(aset, out / ANNOTATIONS_FILE, extra=extra)
    return out


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)


def _write_set_h5(path: Path, spec: FeatureSpec, videos: dict) -> None:
    import h5py

    from ..atomic import atomic_path

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h:
            for name, (arr, _) in videos.items():
                g = h.create_group(name)
                g.create_dataset("features", data=np.asarray(arr, dtype=np.float32))
                g.attrs["spec"] = json.dumps(spec.to_dict())
                g.attrs["video_name"] = name


def write_wtalc_bundle(out_dir: str | Path, name: str, spec: FeatureSpec, classes: list[str],
                       videos: dict[str, tuple[np.ndarray, VideoAnnotation]]) -> Path:
    """Write `<name>-I3D-JOINTFeatures.npy` + `<name>-Annotations/` into out_dir.

    The W-TALC format has no place for the spec (fps, snippet frames): whoever reads the bundle
    needs it from a preset. Every video needs a duration (W-TALC's duration.npy).
    """
    from . import wtalc

    out = Path(out_dir)
    _check_arrays(spec, videos, out)
    aset = _annotation_set(classes, videos, str(out))
    wtalc.write_folder(aset, out / f"{name}{wtalc.ANNOTATIONS_SUFFIX}")
    wtalc.write_bundle_features(out / f"{name}{wtalc.FEATURES_SUFFIX}",
                                [np.asarray(arr, dtype=np.float32) for arr, _ in videos.values()])
    return out


__all__ = ["load_feature_set", "write_pervideo_feature_set", "write_wtalc_bundle", "choose_subsets"]
