"""The ``posekit`` command. Each sub-command is a thin wrapper over a public function."""

from __future__ import annotations

import logging
import sys
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


@app.command()
@friendly
def create(
    name: Annotated[str, typer.Argument(help="Task name, e.g. openfield.")],
    experimenter: Annotated[str, typer.Option(help="Who labels (the scorer).")],
    videos: Annotated[list[Path], typer.Option("--videos", help="Videos to add.")],
    working_directory: Annotated[Path, typer.Option(help="Where to create the folder.")] = Path("."),
    copy_videos: Annotated[bool, typer.Option(help="Copy videos instead of linking.")] = False,
    multi_animal: Annotated[bool, typer.Option(help="Several animals per frame.")] = False,
    individuals: Annotated[list[str] | None, typer.Option(help="Animal names.")] = None,
    bodyparts: Annotated[list[str] | None, typer.Option(help="Bodyparts to label.")] = None,
) -> None:
    """Create a DeepLabCut-compatible project folder NAME-EXPERIMENTER-DATE."""
    from posekit.project import create_project

    if individuals and not multi_animal:
        raise typer.BadParameter("--individuals needs --multi-animal")
    project = create_project(name, experimenter, videos, working_directory=working_directory,
                             copy_videos=copy_videos,
                             individuals=(individuals or []) if multi_animal else None,
                             bodyparts=bodyparts)
    out.print(f"Created {project.root}")
    if not bodyparts:
        out.print(f"Next: list your bodyparts in {project.config_path}.")
    out.print(f"Then pick frames to label: `posekit extract-frames {project.root}`.")


@app.command("add-videos")
@friendly
def add_videos(
    project: ProjectArg,
    videos: Annotated[list[Path], typer.Argument(help="Videos to add.")],
    copy: Annotated[bool, typer.Option(help="Copy videos instead of linking.")] = False,
) -> None:
    """Add videos to a project."""
    from posekit.project import add_videos as add, open_project

    for path in add(open_project(project), videos, copy=copy):
        out.print(f"Added {path}")


@app.command("extract-frames")
@friendly
def extract_frames(
    project: ProjectArg,
    algo: Annotated[str, typer.Option(help="kmeans (visually distinct) or uniform.")] = "kmeans",
    n: Annotated[int | None, typer.Option(help="Frames per video (config numframes2pick).")] = None,
    videos: Annotated[list[Path] | None, typer.Option(help="Only these videos.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the k-means clustering.")] = 0,
) -> None:
    """Pick frames to label from each video into labeled-data/<video>/."""
    from posekit.frames.extract import extract_frames as run
    from posekit.project import open_project

    if algo not in ("kmeans", "uniform"):
        raise typer.BadParameter(f"--algo must be kmeans or uniform, found {algo!r}")
    for stem, files in run(open_project(project), algo=algo, n=n, videos=videos,  # type: ignore[arg-type]
                           seed=seed).items():
        out.print(f"{stem}: {len(files)} new frames")


@app.command("check-labels")
@friendly
def check_labels(
    project: ProjectArg,
    out_dir: Annotated[Path | None, typer.Option(help="Where to draw (default: "
                                                     "labeled-data/<folder>_labeled).")] = None,
) -> None:
    """Draw every labeled frame with its keypoints, to page through and check."""
    from posekit.label.check import check_labels as run
    from posekit.project import open_project

    written = run(open_project(project), out_dir=out_dir)
    for folder in sorted({path.parent for path in written}):
        out.print(f"{folder}/index.html")
    out.print(f"Drew {len(written)} labeled frames; open index.html to page through them.")


@app.command("import-coco")
@friendly
def import_coco(
    project: ProjectArg,
    json_file: Annotated[Path, typer.Argument(help="COCO keypoint annotations (.json).")],
    images: Annotated[Path | None, typer.Option(help="Folder of the images.")] = None,
    folder: Annotated[str | None, typer.Option(help="labeled-data folder name.")] = None,
) -> None:
    """Import COCO keypoint labels into the project's labeled-data."""
    from posekit.io.coco import import_coco as run
    from posekit.project import open_project

    out.print(f"Wrote {run(open_project(project), json_file, image_dir=images, folder=folder)}")


@app.command("import-slp")
@friendly
def import_slp(
    project: ProjectArg,
    slp: Annotated[Path, typer.Argument(help="SLEAP labels (.slp).")],
    video: Annotated[Path | None, typer.Option(help="The labeled video, if moved.")] = None,
    frames: Annotated[list[int] | None, typer.Option(help="Only these frame indices.")] = None,
    max_frames: Annotated[int | None, typer.Option(help="Import at most this many.")] = None,
) -> None:
    """Import SLEAP user labels (with tracks as individuals) into labeled-data."""
    from posekit.io.sleap import import_slp as run
    from posekit.project import open_project

    for path in run(open_project(project), slp, video=video, frames=frames,
                    max_frames=max_frames):
        out.print(f"Wrote {path}")


MULTI_VALUE_OPTIONS = ("--videos", "--individuals", "--bodyparts", "--cameras", "--views",
                       "--frames")


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


def main() -> None:
    """Entry point of the ``posekit`` script."""
    app(args=expand_multi_value_options(sys.argv[1:]), prog_name="posekit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
