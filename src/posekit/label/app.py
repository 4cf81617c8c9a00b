"""The labeling web app: a Starlette (ASGI) application over a :class:`LabelStore`.

Routes (all need the access token, see :mod:`posekit.label.auth`):

========  ==============================================  =====================================
GET       /                                               overview page
GET       /label?folder=NAME                              labeling view
GET       /static/FILE                                    the app's JS, CSS and HTML
GET       /api/project                                    config, videos and folders with counts
POST      /api/extract                                    extract more frames to label
GET       /api/folders/{folder}                           status of every frame (one letter each)
GET       /api/folders/{folder}/frames?offset=&limit=     frame names and status, one page
GET       /api/folders/{folder}/frames/{image}            one frame's points, marks, predictions
PUT       /api/folders/{folder}/frames/{image}            save one frame
POST      /api/folders/{folder}/frames/{image}/accept     turn its predictions into labels
GET       /api/folders/{folder}/images/{image}            the image file
========  ==============================================  =====================================

Errors are JSON ``{"error": message}`` with a 4xx status.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from posekit.errors import PosekitError
from posekit.label.api_project import project_info, run_extraction
from posekit.label.auth import TokenAuth
from posekit.label.paths import LabelRequestError, folder_path, image_path
from posekit.label.store import MAX_PAGE, LabelStore
from posekit.label.validate import MAX_BODY_BYTES, get_rev, number, parse_frame_edit, parse_json
from posekit.project import Project

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml",
                ".png": "image/png"}
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff"}


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    """A JSON error response ``{"error": message, ...}``."""
    return JSONResponse({"error": message, **extra}, status_code=status,
                        headers={"cache-control": "no-store"})


async def read_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body, read with a size limit."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise LabelRequestError(413, f"Request body larger than {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
    return parse_json(b"".join(chunks))


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or not low <= int(raw) <= high:
        raise LabelRequestError(400, f"Query parameter {name!r} must be a whole number from "
                                     f"{low} to {high}, found {raw[:40]!r}.")
    return int(raw)


class LabelingApp:
    """Request handlers bound to one project (see the module docstring for the routes)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.store = LabelStore(project)
        self.extract_lock = threading.Lock()

    async def page(self, request: Request) -> Response:
        name = "index.html" if request.url.path == "/" else "label.html"
        return _static_response(name)

    async def static(self, request: Request) -> Response:
        return _static_response(request.path_params["name"])

    async def api_project(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(project_info, self.project, self.store))

    async def api_extract(self, request: Request) -> Response:
        data = await read_body(request)
        if not self.extract_lock.acquire(blocking=False):
            raise LabelRequestError(409, "Frames are being extracted already; wait until that "
                                         "finishes.")
        try:
            result = await run_in_threadpool(run_extraction, self.project, data)
        finally:
            self.extract_lock.release()
        return JSONResponse(result)

    async def api_folder(self, request: Request) -> Response:
        folder = request.path_params["folder"]
        return JSONResponse(await run_in_threadpool(self.store.summary, folder))

    async def api_frames(self, request: Request) -> Response:
        folder = request.path_params["folder"]
        offset = _int_param(request, "offset", 0, 0, 10**9)
        limit = _int_param(request, "limit", 500, 1, MAX_PAGE)
        return JSONResponse(await run_in_threadpool(self.store.page, folder, offset, limit))

    async def api_frame(self, request: Request) -> Response:
        folder, image = request.path_params["folder"], request.path_params["image"]
        if request.method == "GET":
            return JSONResponse(await run_in_threadpool(self.store.frame, folder, image))
        data = await read_body(request)
        return JSONResponse(await run_in_threadpool(self._put_frame, folder, image, data))

    def _put_frame(self, folder: str, image: str, data: dict[str, Any]) -> dict:
        size = self.store.size(folder, image)
        edit = parse_frame_edit(data, self.store.layout, size)
        return self.store.put_frame(folder, image, edit)

    async def api_accept(self, request: Request) -> Response:
        folder, image = request.path_params["folder"], request.path_params["image"]
        data = await read_body(request)
        unknown = sorted(set(data) - {"base_rev", "min_likelihood"})
        if unknown:
            raise LabelRequestError(422, f"Unknown field(s) {unknown}; expected base_rev and "
                                         f"optionally min_likelihood.")
        rev = get_rev(data)
        cutoff = number(data.get("min_likelihood", 0.0), "min_likelihood")
        result = await run_in_threadpool(
            lambda: self.store.accept_machine(folder, image, base_rev=rev, min_likelihood=cutoff))
        return JSONResponse(result)

    async def api_image(self, request: Request) -> Response:
        folder, image = request.path_params["folder"], request.path_params["image"]
        path = await run_in_threadpool(
            lambda: image_path(self.project, folder_path(self.project, folder), image))
        media = _IMAGE_TYPES[path.suffix.lower()]
        return FileResponse(path, media_type=media,
                            headers={"cache-control": "private, max-age=3600"})


def _static_response(name: str) -> Response:
    files = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}
    path = files.get(name)
    if path is None or path.suffix not in _MEDIA_TYPES:
        raise LabelRequestError(404, f"There is no file {name[:80]!r} in the app.")
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix],
                        headers={"cache-control": "no-cache"})


def _handler(status_of: Callable[[Exception], int]):
    async def handle(request: Request, exc: Exception) -> Response:
        status = status_of(exc)
        if status >= 500:
            logger.exception("internal error while serving %s %s", request.method,
                             request.url.path, exc_info=exc)
            return error(500, "Internal error in the labeling server; see its log.")
        message = getattr(exc, "message", None) or getattr(exc, "detail", None) or str(exc)
        return error(status, str(message), **getattr(exc, "extra", {}))
    return handle


def create_app(project: Project, token: str) -> Starlette:
    """The labeling app for ``project``, protected by ``token``.

    Parameters
    ----------
    project : Project
        The open project.
    token : str
        The access token every request must carry (see :mod:`posekit.label.auth`).

    Returns
    -------
    Starlette
        An ASGI app; serve it with uvicorn or test it with ``starlette.testclient``.
    """
    if not token:
        raise ValueError("the labeling app needs a non-empty access token")
    app = LabelingApp(project)
    frame = "/api/folders/{folder}/frames/{image}"
    routes = [
        Route("/", app.page, methods=["GET"]),
        Route("/label", app.page, methods=["GET"]),
        Route("/static/{name}", app.static, methods=["GET"]),
        Route("/api/project", app.api_project, methods=["GET"]),
        Route("/api/extract", app.api_extract, methods=["POST"]),
        Route("/api/folders/{folder}", app.api_folder, methods=["GET"]),
        Route("/api/folders/{folder}/frames", app.api_frames, methods=["GET"]),
        Route(frame, app.api_frame, methods=["GET", "PUT"]),
        Route(frame + "/accept", app.api_accept, methods=["POST"]),
        Route("/api/folders/{folder}/images/{image}", app.api_image, methods=["GET"]),
    ]
    handlers = {
        LabelRequestError: _handler(lambda e: e.status),
        HTTPException: _handler(lambda e: e.status_code),
        PosekitError: _handler(lambda e: 422),
        Exception: _handler(lambda e: 500),
    }
    starlette = Starlette(routes=routes, exception_handlers=handlers,
                          middleware=[Middleware(TokenAuth, token=token)])
    starlette.state.labeling = app
    return starlette
