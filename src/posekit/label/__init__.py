"""The labeling web app: label and refine frames in the browser.

``serve_labeling(project)`` serves it (``posekit label PROJECT``); ``create_app(project,
token)`` builds the ASGI app (for tests or another server); ``LabelingServer`` runs it in a
background thread. Importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LabelingServer", "create_app", "serve_labeling"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from posekit.label.app import create_app

        return create_app
    if name in ("LabelingServer", "serve_labeling"):
        from posekit.label import server

        return getattr(server, name)
    raise AttributeError(f"module 'posekit.label' has no attribute {name!r}")
