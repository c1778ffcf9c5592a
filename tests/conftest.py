"""Fixtures shared by every test: the real test files, and a private app home per test.

The real third-party files (videos, annotation files) live in the repository under tests/assets/
(see its SOURCES.md), so a clone runs every test on its own; SDANET_SHARED_DATA may point the
tests at another copy with the same layout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "tests" / "assets"
SHARED_DATA = Path(os.environ.get("SDANET_SHARED_DATA") or ASSETS)


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Settings, caches, data and logs of the app go to a temp dir, never the real home."""
    home = tmp_path_factory.mktemp("sdanet-home")
    monkeypatch.setenv("SDANET_GUI_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert (SHARED_DATA / "videos").is_dir(), f"test files not found at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_videos(shared_data) -> list[Path]:
    return sorted((shared_data / "videos").iterdir())
