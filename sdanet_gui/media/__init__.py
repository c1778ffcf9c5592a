"""Video decoding (decord, PyAV fallback) with a byte-bounded frame cache and read-ahead; video
fingerprints; feature extraction (two-stream I3D with optical flow, and a tiny built-in extractor
for the demo and tests) written to the HDF5 feature cache. Never imports Qt.
"""
