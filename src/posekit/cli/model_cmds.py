"""Commands for training sets, training, evaluation, analysis and its pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posekit.cli.app import ProjectArg, app, friendly, out


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
    init_from_previous: Annotated[bool, typer.Option(
        help="Start from the previous iteration's best model of this shuffle.")] = False,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Train again from scratch.")] = False,
    global_scale: Annotated[float | None, typer.Option(
        help="Multi-animal: scale frames by this first (e.g. 0.5 for large frames).")] = None,
) -> None:
    """Train the pose network of a shuffle (AdamW, checkpoints, resumable)."""
    from posekit.project import open_project
    from posekit.train.folder import previous_iteration_checkpoint
    from posekit.train.loop import train as run
    from posekit.train.options import TrainOptions

    opened = open_project(project)
    if init_from_previous:
        init_from = previous_iteration_checkpoint(opened, shuffle)
    given = {"epochs": epochs, "batch_size": batch_size, "backbone": backbone,
             "weights": weights, "init_from": init_from, "device": device}
    options = TrainOptions(**{k: v for k, v in given.items() if v is not None})
    if opened.config.is_multi_animal:
        from posekit.train.multi_loop import MultiAnimalOptions, train_multi

        multi = MultiAnimalOptions() if global_scale is None else \
            MultiAnimalOptions(global_scale=global_scale)
        result = train_multi(opened, shuffle=shuffle, options=options, multi=multi,
                             resume=resume, overwrite=overwrite)
    else:
        if global_scale is not None:
            raise typer.BadParameter("--global-scale is for multi-animal projects")
        result = run(opened, shuffle=shuffle, options=options, resume=resume,
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
    if opened.config.is_multi_animal:
        from posekit.evaluate.multi_report import evaluate_multi, format_multi_summary

        for s in shuffle or [1]:
            summary = evaluate_multi(opened, shuffle=s, which=which)
            for line in format_multi_summary(summary):
                out.print(line)
            out.print(f"Saved to {summary['folder']}")
        return
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
    batch_size: Annotated[str, typer.Option(
        help="Frames per network call, or auto (measured on the first frames).")] = "auto",
    csv: Annotated[bool, typer.Option("--csv", help="Also write a .csv.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Analyze again.")] = False,
    destination: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
    engine: Annotated[str, typer.Option(
        help="auto (ONNX Runtime on CPU, PyTorch on GPU), onnx or torch.")] = "auto",
    precision: Annotated[str, typer.Option(
        help="float32, or int8 (ONNX Runtime: 1.7x the frames/s on a 2-core CPU, "
             "calibrated on the training images).")] = "float32",
    downscale: Annotated[float, typer.Option(
        help="Resize frames by this factor (0-1] before the network.")] = 1.0,
    crop: Annotated[tuple[int, int, int, int] | None, typer.Option(
        help="Analyze only x1 x2 y1 y2 (default: config.yaml's when cropping: true).")] = None,
    dynamic_crop: Annotated[bool, typer.Option(
        help="Follow the animal with a crop; full frame when it is lost.")] = False,
    workers: Annotated[int | None, typer.Option(
        help="Local worker processes (default: sized to the machine).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address: one task per video on that cluster.")] = None,
) -> None:
    """Keypoints on every frame, written as DeepLabCut analysis h5 next to each video."""
    from posekit.distributed import ProjectModelSpec, analyze_many
    from posekit.predict.analyze import AnalyzeOptions
    from posekit.predict.dynamic import DynamicCrop
    from posekit.predict.quantize import PRECISIONS
    from posekit.predict.trained import with_config_crop
    from posekit.project import open_project

    if engine not in ("auto", "onnx", "torch"):
        raise typer.BadParameter(f"--engine must be auto, onnx or torch, found {engine!r}")
    size = batch_size if batch_size == "auto" else _positive_int(batch_size, "--batch-size")
    opened = open_project(project)
    follow = DynamicCrop(pcutoff=opened.config.pcutoff) if dynamic_crop else None
    options = with_config_crop(AnalyzeOptions(
        batch_size=size, save_csv=csv, overwrite=overwrite, destination=destination,  # type: ignore[arg-type]
        downscale=downscale, crop=crop, dynamic_crop=follow), opened)
    if precision not in PRECISIONS:
        raise typer.BadParameter(f"--precision must be one of {', '.join(PRECISIONS)}, found "
                                 f"{precision!r}")
    spec = ProjectModelSpec(opened.root, shuffle=shuffle, engine=engine,  # type: ignore[arg-type]
                            device=device, precision=precision)  # type: ignore[arg-type]
    for path in analyze_many(spec, videos, options=options, workers=workers,
                             scheduler=scheduler):
        out.print(f"Wrote {path}")


def _positive_int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise typer.BadParameter(f"{name} must be a positive integer or auto, found {text!r}")
    return value


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
