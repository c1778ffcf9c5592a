"""`sdanet export`: write a review project's segments in an exchange format.

Formats: activitynet (JSON), thumos14 (a folder of <Class>_<subset>.txt), csv, elan (a folder of
.eaf files with the media linked), wtalc (a W-TALC annotation folder). A file is replaced
atomically; a folder is written as one set (a kill or a full disk leaves the previous export),
and files this program did not write there are neither overwritten nor deleted unless --force.
The project is only read.
"""

NAME = "export"
HELP = "export a review project's annotations (activitynet, thumos14, csv, elan, wtalc)"

FORMATS = ("activitynet", "thumos14", "csv", "elan", "wtalc")


def add_arguments(parser) -> None:
    parser.add_argument("--project", required=True, metavar="DIR", help="project folder")
    parser.add_argument("--format", required=True, choices=FORMATS, help="output format")
    parser.add_argument("--out", required=True, metavar="PATH",
                        help="output file (activitynet, csv) or folder (thumos14, elan, wtalc)")
    parser.add_argument("--only-reviewed", action="store_true",
                        help="only videos marked reviewed; of a partly reviewed video only the "
                             "segments inside its reviewed span")
    parser.add_argument("--videos", nargs="+", metavar="NAME", help="only these videos")
    parser.add_argument("--include-empty-unreviewed", action="store_true",
                        help="also write unreviewed videos that have no segment, as videos with no "
                             "action (by default they are left out: nobody has looked at them)")
    parser.add_argument("--force", action="store_true",
                        help="in a folder, also overwrite or delete files this program did not "
                             "write there (by default such an export is refused, naming them)")


def run(args) -> int:
    from ..project.exchange import export_annotations
    from ..project.store import Project

    # read-only: exporting works while the GUI has the project open
    with Project.open(args.project, read_only=True) as project:
        path = export_annotations(project, args.format, args.out, only_reviewed=args.only_reviewed,
                                  video_names=args.videos, force=args.force,
                                  include_empty_unreviewed=args.include_empty_unreviewed)
    print(f"exported {args.format} to {path}")
    return 0
