"""Puts the stand-in model module on sys.path (for this process and the workers it spawns)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch):
    """The ``posekit_fake_specs`` module."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import posekit_fake_specs

    return posekit_fake_specs


@pytest.fixture
def videos(tmp_path: Path, fakes) -> list[Path]:
    """Three small videos, the square at x = 8, 20 and 32."""
    folder = tmp_path / "videos"
    folder.mkdir()
    return [fakes.write_video(folder / f"v{x}.avi", x) for x in (8, 20, 32)]
