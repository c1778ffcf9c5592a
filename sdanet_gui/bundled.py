"""Access to the bundled `model/` and `resources/` folders, installed or editable alike."""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable


def model_files() -> Traversable:
    return resources.files("sdanet_gui.model")


def resource_files() -> Traversable:
    return resources.files("sdanet_gui.resources")
