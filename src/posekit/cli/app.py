"""The typer app, its global options and error handling, shared by every command module."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler

from posekit import progress
from posekit._version import __version__
from posekit.errors import PosekitError

app = typer.Typer(name="posekit", no_args_is_help=True, add_completion=False,
                  help="Markerless pose estimation of animals from video.")
err = Console(stderr=True)
out = Console()
F = TypeVar("F", bound=Callable[..., Any])

ProjectArg = Annotated[Path, typer.Argument(help="Project folder (or its config.yaml).")]


def _version(value: bool) -> None:
    if value:
        out.print(f"posekit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or info.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """posekit: label a few frames, train, analyze every frame, in 2D and 3D."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", force=True,
                        handlers=[RichHandler(console=err, show_path=False, show_time=False)])
    logging.getLogger("numexpr").setLevel(logging.WARNING)
    progress.enable(not quiet)


def friendly(func: F) -> F:
    """Turn posekit's own errors into a one-paragraph message and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PosekitError as error:
            err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


MULTI_VALUE_OPTIONS = ("--videos", "--individuals", "--bodyparts", "--cameras", "--views",
                       "--frames", "--points", "--offset", "--shuffle")


def expand_multi_value_options(argv: list[str]) -> list[str]:
    """Let list options take several values after one flag, as in ``--videos a.mp4 b.mp4``.

    Click wants the flag repeated (``--videos a.mp4 --videos b.mp4``); every value that
    follows a list option, up to the next token starting with ``-``, gets its own flag.
    """
    expanded: list[str] = []
    current: str | None = None
    for token in argv:
        if token.startswith("-"):
            current = token if token in MULTI_VALUE_OPTIONS else None
            expanded.append(token)
        elif current is not None and expanded[-1] != current:
            expanded += [current, token]
        else:
            expanded.append(token)
    return expanded
