"""posekit.live: real-time pose estimation on a camera, stream or video played as one.

``LiveSession``, ``LiveReport``, ``PoseEvent``, ``RegionTrigger``, ``PoseLog``,
``ForwardPredictor`` and ``FrameSource`` are importable from here; their modules load on
first use (nothing heavy is imported with the package).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {"LiveSession": "session", "LiveReport": "session", "PoseEvent": "processors",
          "RegionTrigger": "processors", "PoseLog": "processors", "Processor": "processors",
          "ForwardPredictor": "kalman", "FrameSource": "source"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"posekit.live.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'posekit.live' has no attribute {name!r}")
