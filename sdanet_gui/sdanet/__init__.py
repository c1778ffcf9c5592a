"""The method: SDANet's config and presets, network (MTFF, SDA, PFM, heads), losses, trainer,
localization (proposals) and evaluation (mAP). torch + numpy only, plus the plain structures and
units of `sdanet_gui.data`; never Qt, never a file format of its own.
"""
