"""Where the test data live (imported by tests as ``fixture_paths``).

A module of its own, not ``tests.conftest``: sleap-io installs a top-level package named
``tests`` into site-packages, which would shadow ours.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
OPENFIELD = REPO / "data" / "openfield-mouse"
OPENFIELD_VIDEO = OPENFIELD / "videos" / "m3v1mp4.mp4"
DLC_FIXTURES = TEST_DATA / "dlc-format-fixtures"
