"""`sdanet extract`: features for new videos, one HDF5 file per video.

Folders are scanned recursively for video files. A video that fails prints its error on one line
and the others continue; the exit code is 1 if any failed. Unchanged videos are cache hits.
"""

NAME = "extract"
HELP = "extract features (i3d or the built-in tiny extractor) from videos into per-video .h5 files"



def add_arguments(parser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER",
                        help="video files, or folders searched recursively for videos")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the .h5 feature files")
    parser.add_argument("--extractor", choices=("i3d", "tiny"), default="i3d",
                        help="i3d: two-stream I3D, [T, 2048] (needs weights); tiny: built-in demo "
                             "features, no weights (default: i3d)")
    parser.add_argument("--i3d-weights", metavar="DIR", default=None,
                        help="folder with rgb_imagenet.pt and flow_imagenet.pt (default: "
                             "$SDANET_I3D_WEIGHTS, else i3d_weights in settings.json, else <data dir>/i3d)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1, ... (i3d only)")
    parser.add_argument("--overwrite", action="store_true", help="recompute even when up to date")


def find_videos(inputs) -> tuple[list, list]:
    """(videos to process, errors for inputs that are neither a video nor a folder)."""
    from pathlib import Path

    from ..media import VIDEO_EXTENSIONS

    videos, errors = [], []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                errors.append(f"{p}: no video files found in this folder")
            videos.extend(found)
        elif p.exists():
            videos.append(p)
        else:
            errors.append(f"{p}: file not found")
    return videos, errors


def run(args) -> int:
    import sys
    from pathlib import Path

    from tqdm import tqdm

    from ..errors import UserError
    from ..media.extract import extract_features, make_extractor

    videos, errors = find_videos(args.inputs)
    for e in errors:
        print(f"sdanet extract: error: {e}", file=sys.stderr)
    stems: dict[str, Path] = {}
    unique = []
    for v in videos:
        if v.stem in stems and stems[v.stem] != v:
            errors.append(f"{v}: skipped, its output name {v.stem}.h5 is already used by {stems[v.stem]}")
            print(f"sdanet extract: error: {errors[-1]}", file=sys.stderr)
            continue
        stems[v.stem] = v
        unique.append(v)
    if not unique:
        return 1
    extractor = make_extractor(args.extractor, args.i3d_weights, args.device)
    out_dir = Path(args.out)
    failed = len(errors)
    done = 0
    for video in unique:
        bar = tqdm(total=0, desc=video.name, unit="snippet", leave=False, file=sys.stderr,
                   dynamic_ncols=True)

        def progress(n, total, bar=bar):
            bar.total = total
            bar.n = n
            bar.refresh()

        try:
            out = extract_features(video, out_dir, extractor=extractor, progress=progress,
                                   overwrite=args.overwrite)
        except UserError as exc:
            bar.close()
            failed += 1
            print(f"sdanet extract: error: {exc}", file=sys.stderr)
            continue
        bar.close()
        done += 1
        print(f"{video} -> {out}")
    print(f"{done} of {done + failed} videos have features in {out_dir}", file=sys.stderr)
    return 1 if failed else 0
