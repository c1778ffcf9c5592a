"""Bundled model assets: presets (`presets/*.json`) and the small demo checkpoint.

Installed as `sdanet_gui.model`; read through importlib.resources, never by path arithmetic.
"""
