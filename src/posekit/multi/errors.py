"""The error raised on bad input to assembly and tracking."""

from __future__ import annotations

from posekit.errors import PosekitError


class MultiAnimalError(PosekitError, ValueError):
    """Bad input to multi-animal assembly or tracking: wrong array shapes, bad options,
    edges that do not fit the bodyparts, labels that cannot teach a prior."""
