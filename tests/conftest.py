"""Fixtures shared by every test: real shared data, and a private app home per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SDANET_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Settings, caches, data and logs of the app go to a temp dir, never the real home."""
    home = tmp_path_factory.mktemp("sdanet-home")
    monkeypatch.setenv("SDANET_GUI_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_videos(shared_data) -> list[Path]:
    return sorted((shared_data / "videos").iterdir())
