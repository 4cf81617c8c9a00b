"""Exceptions raised by posekit.

Every error a user can cause is one of these. Each subclasses the standard exception a
Python user would expect (``ValueError``, ``FileNotFoundError``), so generic handlers keep
working, and its message names the thing, what was expected, what was found and what to do.
"""

from __future__ import annotations


class PosekitError(Exception):
    """Base class of all errors posekit raises on purpose."""


class ProjectError(PosekitError, ValueError):
    """A project folder or its config.yaml is missing, malformed or inconsistent."""


class LabelFileError(PosekitError, ValueError):
    """A label file cannot be read, or disagrees with the project it belongs to."""


class VideoError(PosekitError, ValueError):
    """A video cannot be opened, decoded, or does not hold the frames asked for."""


class CalibrationError(PosekitError, ValueError):
    """A camera calibration cannot be computed or a calibration file is malformed."""


class ModelError(PosekitError, ValueError):
    """A model, checkpoint or weight file is missing, corrupt or does not fit."""


class MissingFileError(PosekitError, FileNotFoundError):
    """A file the user named, or that a project refers to, does not exist."""
