"""Video decoding (decord, PyAV fallback) with a byte-bounded frame cache and read-ahead; video
fingerprints; feature extraction (two-stream I3D with optical flow, and a tiny built-in extractor
for the demo and tests) written to the HDF5 feature cache. Never imports Qt.
"""

# File name suffixes this program treats as videos (folders are searched for these). Decoding
# decides in the end: a file that does not decode is reported, whatever its name.
VIDEO_EXTENSIONS = frozenset((".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg",
                              ".wmv", ".flv", ".ts", ".mts", ".m2ts", ".3gp", ".ogv"))
