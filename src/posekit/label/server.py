"""Serving the labeling app with uvicorn: ``posekit label PROJECT``."""

from __future__ import annotations

import logging
import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from posekit.label.auth import new_token
from posekit.project import Project, open_project

logger = logging.getLogger(__name__)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(f"Cannot listen on {host}:{port}: {error.strerror or error}. Choose "
                      f"another --port (0 picks a free one) or --host.") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class LabelingServer:
    """The labeling app served by uvicorn in a background thread.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with LabelingServer("my-project") as server:
            print(server.url)

    Parameters
    ----------
    project : Project or path-like
        The project (or its folder or config.yaml).
    host : str
        Address to listen on; 127.0.0.1 (this machine only) unless told otherwise.
    port : int
        Port; 0 picks a free one.
    token : str, optional
        Access token; a random one (``secrets.token_urlsafe``) if omitted.
    """

    def __init__(self, project: Project | str | Path, *, host: str = "127.0.0.1",
                 port: int = 0, token: str | None = None) -> None:
        self.project = project if isinstance(project, Project) else open_project(project)
        self.host = host
        self.token = token or new_token()
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be from 0 to 65535, found {port}")
        self._requested_port = port
        self._server = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """The URL to open, with the token (``http://HOST:PORT/?token=...``)."""
        if self.port is None:
            raise RuntimeError("the server has not been started")
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/?token={self.token}"

    def start(self, *, timeout: float = 30.0) -> LabelingServer:
        """Start serving in a background thread; return once requests are accepted."""
        import uvicorn

        from posekit.label.app import create_app

        self._socket = _bind(self.host, self._requested_port)
        self.port = self._socket.getsockname()[1]
        app = create_app(self.project, self.token)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]},
                                        name="posekit-label-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the labeling server did not start; see the log above")
            time.sleep(0.02)
        if self.host not in LOCAL_HOSTS:
            logger.warning("The labeling app listens on %s: anyone who can reach this port "
                           "and has the token can read and change the labels. Prefer an SSH "
                           "tunnel (ssh -L PORT:127.0.0.1:PORT server) to --host.", self.host)
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        """Finish the requests in progress and stop (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._thread = self._server = self._socket = None

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> LabelingServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve_labeling(project_path: str | Path, *, host: str = "127.0.0.1", port: int = 0,
                   token: str | None = None, open_browser: bool = False,
                   on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the labeling app until Ctrl-C; the URL (with its token) is logged.

    Parameters
    ----------
    project_path : path-like
        The project folder or its config.yaml.
    host : str
        Address to listen on: 127.0.0.1 (default) serves this machine only; ``0.0.0.0``
        serves the network (prefer an SSH tunnel).
    port : int
        Port; 0 (default) picks a free one.
    token : str, optional
        Access token; random if omitted.
    open_browser : bool
        Open the URL in the default browser once the server is up.
    on_ready : callable, optional
        Called with the URL once the server accepts requests (the CLI prints it).

    Raises
    ------
    ProjectError, MissingFileError
        If the project cannot be opened.
    OSError
        If the address cannot be listened on.
    """
    server = LabelingServer(project_path, host=host, port=port, token=token).start()
    try:
        logger.info("posekit labeling app for %s at %s (Ctrl-C stops it)", server.project.root,
                    server.url)
        if on_ready is not None:
            on_ready(server.url)
        if open_browser:
            webbrowser.open(server.url)
        server.wait()
    except KeyboardInterrupt:
        logger.info("stopping the labeling app")
    finally:
        server.stop()
    logger.info("labeling app stopped")
