"""Shared fixtures. Test data live in tests/data (see tests/data/README.md) and data/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixture_paths import OPENFIELD


@pytest.fixture
def openfield_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped open-field DeepLabCut project (116 labeled frames)."""
    target = tmp_path / "openfield"
    shutil.copytree(OPENFIELD, target)
    return target
