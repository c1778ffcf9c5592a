"""Bundled resources (icons, stylesheet, default keymap, demo assets), installed as
`sdanet_gui.resources` and read through importlib.resources.
"""
