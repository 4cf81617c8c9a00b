"""Commands for projects, frames and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posekit.cli.app import ProjectArg, app, friendly, out


@app.command()
@friendly
def create(
    name: Annotated[str, typer.Argument(help="Task name, e.g. openfield.")],
    experimenter: Annotated[str, typer.Option(help="Who labels (the scorer).")],
    videos: Annotated[list[Path], typer.Option("--videos", help="Videos to add.")],
    working_directory: Annotated[Path, typer.Option(help="Where to create it.")] = Path("."),
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
    from posekit.project import add_videos as add
    from posekit.project import open_project

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


@app.command()
@friendly
def label(
    project: ProjectArg,
    port: Annotated[int, typer.Option(help="Port (0: any free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 for remote access "
                                           "(use an SSH tunnel where you can).")] = "127.0.0.1",
    token: Annotated[str | None, typer.Option(help="Access token (random by default).")] = None,
    open_browser: Annotated[bool, typer.Option("--open/--no-open",
                                               help="Open a browser tab.")] = False,
) -> None:
    """Label and refine frames in the browser. Ctrl-C stops the server."""
    from posekit.label import serve_labeling

    serve_labeling(project, host=host, port=port, token=token, open_browser=open_browser,
                   on_ready=lambda url: out.print(f"Labeling app: {url}\nCtrl-C to stop."))
