"""Progress reporting that is silent in the library and visible from the command line.

Library code wraps long loops in :func:`track`. Nothing is shown unless a front end (the CLI)
has called :func:`enable`; then a rich progress bar is drawn on standard error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_ENABLED: ContextVar[bool] = ContextVar("posekit_progress_enabled", default=False)


def enable(on: bool = True) -> None:
    """Turn progress bars on (the CLI does this unless ``--quiet``) or off."""
    _ENABLED.set(on)


def is_enabled() -> bool:
    """Whether progress bars are drawn."""
    return _ENABLED.get()


def track(iterable: Iterable[T], *, total: int | None = None, description: str = "") -> Iterator[T]:
    """Iterate over ``iterable``, drawing a progress bar when enabled.

    Parameters
    ----------
    iterable : iterable
        The work items.
    total : int, optional
        Number of items, when ``iterable`` has no ``len``.
    description : str
        What is being done, shown left of the bar.

    Yields
    ------
    The items of ``iterable``, unchanged.
    """
    if not _ENABLED.get():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(iterable, total=total, description=description,
                          console=Console(stderr=True))


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """Show a spinner with ``message`` while the body runs (when enabled)."""
    if not _ENABLED.get():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


class Task:
    """A progress bar driven by hand: ``advance`` it and ``note`` what it is doing."""

    def advance(self, steps: int = 1) -> None:
        """Mark ``steps`` more units of work done."""

    def note(self, text: str) -> None:
        """Show ``text`` (e.g. the current loss) beside the bar."""


class _RichTask(Task):
    def __init__(self, bar: object, task_id: object) -> None:
        self._bar = bar
        self._id = task_id

    def advance(self, steps: int = 1) -> None:
        self._bar.advance(self._id, steps)  # type: ignore[attr-defined]

    def note(self, text: str) -> None:
        self._bar.update(self._id, info=text)  # type: ignore[attr-defined]


@contextlib.contextmanager
def task(description: str, *, total: int) -> Iterator[Task]:
    """A progress bar for work that is not a simple loop (silent unless enabled).

    Parameters
    ----------
    description : str
        What is being done.
    total : int
        Units of work in all.

    Yields
    ------
    Task
        Call ``advance()`` after each unit and ``note(text)`` to show numbers.
    """
    if not _ENABLED.get():
        yield Task()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=Console(stderr=True)) as bar:
        yield _RichTask(bar, bar.add_task(description, total=total, info=""))
