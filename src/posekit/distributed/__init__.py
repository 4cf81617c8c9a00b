"""posekit.distributed: analyzing many videos, on a local worker pool or a Dask cluster.

``analyze_many``, ``default_workers``, ``ProjectModelSpec``, ``ExportedModelSpec`` and
``spec_from_path`` are importable from here; their modules load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {"analyze_many": "pool", "default_workers": "pool", "ProjectModelSpec": "specs",
          "ExportedModelSpec": "specs", "PredictorSpec": "specs", "spec_from_path": "specs"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"posekit.distributed.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'posekit.distributed' has no attribute {name!r}")
