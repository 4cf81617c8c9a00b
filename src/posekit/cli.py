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


@app.command("create-dataset")
@friendly
def create_dataset(
    project: ProjectArg,
    shuffles: Annotated[int, typer.Option(help="How many shuffles to create.")] = 1,
    train_fraction: Annotated[float | None, typer.Option(
        help="Fraction of labeled images for training (config TrainingFraction).")] = None,
    from_shuffle: Annotated[int | None, typer.Option(
        help="Reuse this shuffle's split exactly (fair model comparisons).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the first shuffle.")] = None,
    append: Annotated[bool, typer.Option(
        help="Number new shuffles after existing ones (implied by --from-shuffle).")] = False,
) -> None:
    """Split the labeled frames into train and test sets, recorded on disk."""
    from posekit.data.splits import create_dataset as run
    from posekit.project import open_project

    append = append or from_shuffle is not None
    for path in run(open_project(project), shuffles=shuffles, train_fraction=train_fraction,
                    from_shuffle=from_shuffle, seed=seed, append=append):
        out.print(f"Wrote {path}")


@app.command()
@friendly
def train(
    project: ProjectArg,
    shuffle: Annotated[int, typer.Option(help="Which shuffle's split.")] = 1,
    epochs: Annotated[int | None, typer.Option(help="Passes over the training images.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per step.")] = None,
    backbone: Annotated[str | None, typer.Option(
        help="mobilenet_v2 (default), efficientnet_lite0 or resnet_50.")] = None,
    weights: Annotated[Path | None, typer.Option(help="Backbone weight file of yours.")] = None,
    init_from: Annotated[Path | None, typer.Option(
        help="Start from a posekit checkpoint, e.g. the previous iteration's best.pt.")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Train again from scratch.")] = False,
) -> None:
    """Train the pose network of a shuffle (AdamW, checkpoints, resumable)."""
    from posekit.project import open_project
    from posekit.train.loop import train as run
    from posekit.train.options import TrainOptions

    given = {"epochs": epochs, "batch_size": batch_size, "backbone": backbone,
             "weights": weights, "init_from": init_from, "device": device}
    options = TrainOptions(**{k: v for k, v in given.items() if v is not None})
    result = run(open_project(project), shuffle=shuffle, options=options, resume=resume,
                 overwrite=overwrite)
    out.print(f"Model: {result.folder.path}")
    out.print(f"Best test error {result.best_test_error:.2f} px at epoch {result.best_epoch}; "
              f"last epoch {result.final_test_error:.2f} px (mean distance to the labels).")


@app.command()
@friendly
def evaluate(
    project: ProjectArg,
    shuffle: Annotated[list[int] | None, typer.Option(help="Shuffles (default 1).")] = None,
    which: Annotated[str, typer.Option(help="best or last checkpoint.")] = "best",
    plot: Annotated[bool, typer.Option(help="Draw the test frames.")] = True,
) -> None:
    """Train and test errors (mean, RMSE, above p-cutoff, PCK), per bodypart, with images."""
    from rich.table import Table

    from posekit.evaluate.report import evaluate as run
    from posekit.project import open_project

    opened = open_project(project)
    for s in shuffle or [1]:
        result = run(opened, shuffle=s, which=which, plot=plot)  # type: ignore[arg-type]
        table = Table(title=f"shuffle {s}: {result.summary['scorer']}")
        for column in ("set", "images", "mean error px", "RMSE px", "error p>cutoff px",
                       "PCK@2", "PCK@5", "PCK@10"):
            table.add_column(column)
        for name in ("train", "test"):
            m = result.summary[name]
            table.add_row(name, str(m["n_images"]), f"{m['mean_error_px']:.2f}",
                          f"{m['rmse_px']:.2f}", f"{m['mean_error_above_pcutoff_px']:.2f}",
                          f"{m['pck@2']:.2f}", f"{m['pck@5']:.2f}", f"{m['pck@10']:.2f}")
        out.print(table)
        out.print(f"Saved to {result.folder}")


@app.command()
@friendly
def analyze(
    project: ProjectArg,
    videos: Annotated[list[Path], typer.Argument(help="Videos to analyze.")],
    shuffle: Annotated[int, typer.Option(help="Which shuffle's model.")] = 1,
    batch_size: Annotated[int, typer.Option(help="Frames per network call.")] = 8,
    csv: Annotated[bool, typer.Option("--csv", help="Also write a .csv.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Analyze again.")] = False,
    destination: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
) -> None:
    """Keypoints on every frame, written as DeepLabCut analysis h5 next to each video."""
    from posekit.predict.analyze import AnalyzeOptions
    from posekit.predict.trained import analyze_videos
    from posekit.project import open_project

    options = AnalyzeOptions(batch_size=batch_size, save_csv=csv, overwrite=overwrite,
                             destination=destination)
    for path in analyze_videos(open_project(project), videos, shuffle=shuffle, options=options,
                               device=device):
        out.print(f"Wrote {path}")


@app.command("labeled-video")
@friendly
def labeled_video(
    project: ProjectArg,
    videos: Annotated[list[Path], typer.Argument(help="Analyzed videos.")],
    shuffle: Annotated[int | None, typer.Option(help="Analysis of this shuffle.")] = None,
    filtered: Annotated[bool, typer.Option(help="Use the filtered analysis.")] = False,
    fade: Annotated[bool, typer.Option(help="Fade points under p-cutoff, not hide.")] = False,
) -> None:
    """Write <video>_labeled.mp4 with the keypoints drawn."""
    from posekit.project import open_project
    from posekit.viz.project import labeled_video as run

    opened = open_project(project)
    for video in videos:
        out.print(f"Wrote {run(opened, video, shuffle=shuffle, filtered=filtered, fade=fade)}")


@app.command("plot-trajectories")
@friendly
def plot_trajectories(
    project: ProjectArg,
    videos: Annotated[list[Path], typer.Argument(help="Analyzed videos.")],
    shuffle: Annotated[int | None, typer.Option(help="Analysis of this shuffle.")] = None,
    filtered: Annotated[bool, typer.Option(help="Use the filtered analysis.")] = False,
) -> None:
    """Trajectory, likelihood and jump plots (PNG) for analyzed videos."""
    from posekit.project import open_project
    from posekit.viz.project import trajectory_plots as run

    opened = open_project(project)
    for video in videos:
        for path in run(opened, video, shuffle=shuffle, filtered=filtered):
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
