"""`sdanet import`: bring annotation or prediction files into a review project.

Creates the project folder if needed. Ground truth becomes segments with provenance "imported";
an ActivityNet result file (or any file with --as-predictions) becomes the predicted segments of
a model version named "imported". One transaction: a malformed file changes nothing.
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
    parser.add_argument("--as-predictions", action="store_true",
                        help="store the file as predicted segments of a model version")
    parser.add_argument("--fps", type=float, help="frame rate for files that name frames but no fps")
    parser.add_argument("--fixed-classes", action="store_true",
                        help="refuse labels outside the project's class list (and keep that rule)")


def run(args) -> int:
    from pathlib import Path

    from ..project.exchange import import_annotations
    from ..project.store import Project

    folder = Path(args.project)
    project = Project.create(folder, exist_ok=True)
    try:
        if args.fixed_classes:
            project.set_setting("classes_fixed", True)
        report = import_annotations(project, args.annotations,
                                    as_predictions=True if args.as_predictions else None,
                                    videos_dir=args.videos, fps=args.fps)
    finally:
        project.close()
    print(report.summary())
    return 0
