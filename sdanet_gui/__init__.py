"""sdanet-gui: review and correct temporal action localization, backed by SDANet.

Nothing here imports Qt, torch or decord: `import sdanet_gui` must stay cheap, because the
window has to be visible within 1.5 s of launch.
"""

__version__ = "0.1.0"
