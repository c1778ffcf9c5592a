"""Annotation and feature formats, and time units: the bottom layer of the engine.

Everything here is plain numpy / h5py / json. It holds the one units module (`units`), the plain
structures every layer above exchanges (`structures`), and one reader/writer per file format.
It never imports torch, Qt or a video decoder, so format code can be used and tested anywhere.
"""
