"""`sdanet import`: bring annotation or prediction files into a review project.

    sdanet import --project DIR --annotations F [--features PATH] [--reviewed] [--videos DIR]
                  [--as-predictions] [--fps FPS] [--fixed-classes]

Creates the project folder if needed. Ground truth becomes segments with provenance "imported";
an ActivityNet result file (or any file with --as-predictions) becomes the predicted segments of
a model version named "imported". One transaction: a malformed file changes nothing.
--features: each imported video gets its features from the feature set at PATH (per-video
folder, HDF5 file or W-TALC bundle, matched by name), copied into the project
(`project.exchange.attach_feature_set`); a set that does not record its frame rate and snippet
length (a W-TALC bundle) is taken to have the I3D convention of the presets (25 fps, 16-frame
snippets).
--reviewed: the file is curated ground truth: its segments become human corrections (the
"Confirm" edit, provenance "confirmed") and its videos are marked reviewed whole, so fine-tuning
and `sdanet train --project` learn from them and may hold them out to measure.
"""

NAME = "import"
HELP = "import annotations (or predictions) into a review project, creating it if needed"


def add_arguments(parser) -> None:
    parser.add_argument("--project", required=True, metavar="DIR", help="project folder")
    parser.add_argument("--annotations", required=True, metavar="FILE_OR_FOLDER",
                        help="ActivityNet JSON (ground truth or results), THUMOS14 txt folder, "
                             "CSV, ELAN .eaf folder or W-TALC folder")
    parser.add_argument("--videos", metavar="DIR",
                        help="folder with the video files, matched to annotations by name stem")
    parser.add_argument("--features", metavar="PATH",
                        help="feature set of the imported videos (per-video folder, HDF5 file or "
                             "W-TALC bundle), matched by video name")
    parser.add_argument("--reviewed", action="store_true",
                        help="the annotations are curated ground truth: mark the imported videos "
                             "reviewed whole and their segments human corrections")
    parser.add_argument("--as-predictions", action="store_true",
                        help="store the file as predicted segments of a model version")
    parser.add_argument("--fps", type=float, help="frame rate for files that name frames but no fps")
    parser.add_argument("--fixed-classes", action="store_true",
                        help="refuse labels outside the project's class list (and keep that rule)")


def run(args) -> int:
    from pathlib import Path

    from ..errors import UserError
    from ..project.exchange import attach_feature_set, import_annotations
    from ..project.store import Project

    if args.as_predictions and args.reviewed:
        raise UserError("--reviewed marks ground truth as reviewed; predictions (--as-predictions) "
                        "are never ground truth")
    if args.features and not Path(args.features).exists():
        raise UserError(f"{args.features}: feature set not found", path=args.features)
    folder = Path(args.project)
    project = Project.create(folder, exist_ok=True)
    lines = []
    try:
        if args.fixed_classes:
            project.set_setting("classes_fixed", True)
        report = import_annotations(project, args.annotations,
                                    as_predictions=True if args.as_predictions else None,
                                    videos_dir=args.videos, fps=args.fps)
        names = report.videos
        if report.model_version_id is not None:     # a results file: its videos
            names = [v.name for v in project.videos()]
        lines.append(report.summary())
        if args.features:
            from ..sdanet.config import load_preset

            linked = attach_feature_set(project, args.features, names, annotations=args.annotations,
                                        default_spec=load_preset("thumos14").feature_spec())
            lines.append(f"features: {len(linked['attached'])} of {len(names)} videos linked to "
                         f"{args.features}" + (f"; none for {', '.join(linked['missing'][:5])}"
                                               + (" ..." if len(linked['missing']) > 5 else "")
                                               if linked["missing"] else ""))
        if args.reviewed:
            lines.append(f"reviewed: {mark_reviewed(project, names)} videos marked reviewed whole, "
                         f"their segments confirmed")
    finally:
        project.close()
    print("\n".join(lines))
    return 0


def mark_reviewed(project, names) -> int:
    """Confirm the imported segments of videos `names` and mark each reviewed whole, through the
    project's edit commands (the edit log records it). Returns how many videos."""
    from ..project.commands import ConfirmSegments, SetReviewState

    for name in names:
        rec = project.video(name)
        imported = [s.id for s in project.segments(rec.id) if s.provenance == "imported"]
        if imported:
            ConfirmSegments(imported).apply(project)
        SetReviewState(rec.id, "done").apply(project)
    return len(names)
