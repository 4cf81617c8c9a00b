"""Safe paths for the labeling app: every name a request carries is checked here.

A request names a labeled-data folder and an image inside it. Each name must be one plain
path component (no separators, no ``..``, no control characters, no drive letters); the file
must exist; and its real path (symlinks followed) must stay inside the project. Anything else
is answered with a 4xx error and never touches the file system outside the project.
"""

from __future__ import annotations

import os
from pathlib import Path

from posekit.errors import PosekitError
from posekit.project import Project

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MAX_NAME_LENGTH = 255


class LabelRequestError(PosekitError, ValueError):
    """A request to the labeling app that cannot be served; carries the HTTP status.

    Parameters
    ----------
    status : int
        The HTTP status to answer with (4xx).
    message : str
        What was wrong and what to do, shown to the user.
    extra : dict, optional
        More JSON fields for the response body (e.g. the current frame after a conflict).
    """

    def __init__(self, status: int, message: str, extra: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = dict(extra or {})


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it is one safe path component, else raise a 400 error.

    Parameters
    ----------
    name : str
        A folder or file name taken from a request.
    what : str
        What the name is, for the message ("folder", "image").
    """
    problem = None
    if not isinstance(name, str) or not name:
        problem = "it is empty"
    elif len(name) > MAX_NAME_LENGTH:
        problem = f"it is longer than {MAX_NAME_LENGTH} characters"
    elif name in (".", ".."):
        problem = "it refers to a parent or the current folder"
    elif any(sep in name for sep in ("/", "\\")):
        problem = "it contains a path separator"
    elif ":" in name:
        problem = "it contains ':' (a drive letter or stream name)"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        problem = "it contains control characters"
    elif name.startswith("."):
        problem = "hidden files are not served"
    if problem:
        raise LabelRequestError(400, f"Invalid {what} name {name[:80]!r}: {problem}. Use the "
                                     f"plain name of a {what} inside the project.")
    return name


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(root)
    except (ValueError, OSError):
        return False
    return True


def folder_path(project: Project, folder: str) -> Path:
    """The labeled-data folder ``folder``, checked to exist and to lie inside the project.

    Raises
    ------
    LabelRequestError
        400 for a malformed name, 404 if there is no such folder, 403 if it resolves
        (through a symlink) outside the project.
    """
    check_name(folder, "folder")
    path = project.labeled_data_dir / folder
    if not path.is_dir():
        raise LabelRequestError(404, f"There is no folder {folder!r} in "
                                     f"{project.labeled_data_dir}. Extract frames for the video "
                                     f"first, or pick a folder from the overview page.")
    if not _inside(path, project.root):
        raise LabelRequestError(403, f"Folder {folder!r} leads outside the project (it is a "
                                     f"link to another place); it is not served.")
    return path


def image_path(project: Project, directory: Path, image: str) -> Path:
    """The image ``image`` of a labeled-data folder, checked like :func:`folder_path`."""
    check_name(image, "image")
    if not image.lower().endswith(IMAGE_SUFFIXES):
        raise LabelRequestError(400, f"{image!r} is not an image name: expected one ending in "
                                     f"{', '.join(IMAGE_SUFFIXES)}.")
    path = directory / image
    if not path.is_file():
        raise LabelRequestError(404, f"There is no image {image!r} in {directory.name}.")
    if not _inside(path, project.root):
        raise LabelRequestError(403, f"Image {image!r} leads outside the project (it is a link "
                                     f"to another place); it is not served.")
    return path


def list_images(project: Project, directory: Path) -> list[str]:
    """Names of the image files of a folder, sorted; links leading outside are left out."""
    names = []
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".") or not name.lower().endswith(IMAGE_SUFFIXES):
                continue
            try:
                if not entry.is_file():
                    continue
                if entry.is_symlink() and not _inside(Path(entry.path), project.root):
                    continue
            except OSError:
                continue
            names.append(name)
    names.sort()
    return names
