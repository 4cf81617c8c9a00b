"""The public API: every advertised name resolves, and importing posekit stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import posekit


@pytest.mark.parametrize("name", posekit.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(posekit, name) is not None


def test_import_is_light_and_has_no_side_effects() -> None:
    code = ("import sys, posekit; heavy = [m for m in ('torch', 'cv2', 'pandas', 'matplotlib') "
            "if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_unknown_name() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        posekit.nope  # noqa: B018
