"""Commands for the refinement loop and post-processing: outliers, filtering, kinematics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posekit.cli.app import ProjectArg, app, friendly, out

VideoArg = Annotated[Path, typer.Argument(help="An analyzed video.")]
AnalysisOpt = Annotated[Path | None, typer.Option(
    help="The analysis h5 (default: the newest complete one next to the video).")]


@app.command("extract-outliers")
@friendly
def extract_outliers(
    project: ProjectArg,
    video: VideoArg,
    method: Annotated[str, typer.Option(help="jump, uncertain, fitting or list.")] = "jump",
    n: Annotated[int | None, typer.Option(help="Frames to extract (numframes2pick).")] = None,
    epsilon: Annotated[float, typer.Option(help="Pixels: jump / fitting threshold.")] = 20.0,
    p_bound: Annotated[float, typer.Option(help="Likelihood bound for 'uncertain'.")] = 0.01,
    frames: Annotated[list[int] | None, typer.Option(help="Frames for 'list'.")] = None,
    analysis: AnalysisOpt = None,
) -> None:
    """Frames where the model is probably wrong, with its predictions, for refinement."""
    from posekit.frames.outliers import extract_outlier_frames
    from posekit.postprocess.outliers import OutlierOptions
    from posekit.project import open_project

    if method not in ("jump", "uncertain", "fitting", "list"):
        raise typer.BadParameter(f"--method must be jump, uncertain, fitting or list, found "
                                 f"{method!r}")
    options = OutlierOptions(epsilon=epsilon, p_bound=p_bound, frames=tuple(frames or ()))
    written = extract_outlier_frames(open_project(project), video, method=method,  # type: ignore[arg-type]
                                     n=n, analysis=analysis, options=options)
    if not written:
        out.print("No new outlier frames.")
    for path in written:
        out.print(f"Wrote {path}")
    if written:
        out.print(f"Correct them in the browser: posekit label {project}")


@app.command("filter")
@friendly
def filter_(
    project: ProjectArg,
    video: VideoArg,
    method: Annotated[str, typer.Option(help="median, savgol, kalman or arima.")] = "median",
    window: Annotated[int, typer.Option(help="Window (frames) of median/savgol.")] = 5,
    max_gap: Annotated[int, typer.Option(help="Fill gaps up to this many frames.")] = 10,
    analysis: AnalysisOpt = None,
) -> None:
    """Smooth an analysis and fill short gaps: writes <analysis>_filtered.h5."""
    from posekit.postprocess.filters import FilterOptions, filter_file
    from posekit.predict.locate import find_analysis
    from posekit.project import open_project

    if method not in ("median", "savgol", "kalman", "arima"):
        raise typer.BadParameter(f"--method must be median, savgol, kalman or arima, found "
                                 f"{method!r}")
    opened = open_project(project)
    options = FilterOptions(window=window, max_gap=max_gap, pcutoff=opened.config.pcutoff)
    h5 = analysis or find_analysis(video)
    out.print(f"Wrote {filter_file(h5, method=method, options=options)}")  # type: ignore[arg-type]


@app.command("analyze-skeleton")
@friendly
def analyze_skeleton(
    project: ProjectArg,
    video: VideoArg,
    filtered: Annotated[bool, typer.Option(help="Use the filtered analysis.")] = False,
    analysis: AnalysisOpt = None,
) -> None:
    """Bone lengths and orientations per frame, and bodypart speeds (h5 and csv)."""
    from posekit.postprocess.kinematics import analyze_skeleton_file
    from posekit.predict.locate import find_analysis
    from posekit.project import open_project

    h5 = analysis or find_analysis(video, filtered=filtered)
    out.print(f"Wrote {analyze_skeleton_file(h5, open_project(project))}")


@app.command()
@friendly
def merge(
    project: ProjectArg,
    force: Annotated[bool, typer.Option(help="Merge even if some frames are unrefined.")] = False,
) -> None:
    """Fold refined outlier frames into the labeled set; start the next iteration."""
    from posekit.project import open_project
    from posekit.project.iterations import merge as run

    report = run(open_project(project), force=force)
    out.print(f"Refined frames per folder: {report.refined}")
    out.print(f"The project is now at iteration {report.iteration}. Next: posekit create-dataset "
              f"{project}, then posekit train {project} --init-from-previous.")


@app.command()
@friendly
def track(
    project: ProjectArg,
    analysis: Annotated[Path, typer.Argument(help="Multi-animal analysis h5 (untracked).")],
    output: Annotated[Path | None, typer.Option(
        help="Where to write (default <analysis>_tracked.h5).")] = None,
    max_gap: Annotated[int | None, typer.Option(
        help="Longest break (frames) bridged when stitching tracklets.")] = None,
) -> None:
    """Link animals across frames into one track per individual of the config."""
    from dataclasses import replace

    from posekit.io.predictions import Predictions, read_predictions, write_dlc_h5
    from posekit.multi import TrackingOptions, track_individuals
    from posekit.project import open_project

    config = open_project(project).config
    individuals = config.individual_names
    options = TrackingOptions()
    if max_gap is not None:
        options = replace(options, stitch=replace(options.stitch, max_gap=max_gap))
    pred = read_predictions(analysis)
    tracks = track_individuals(pred.data, n_tracks=len(individuals), options=options)
    tracked = Predictions(data=tracks, bodyparts=pred.bodyparts, individuals=individuals,
                          scorer=pred.scorer, multi_animal=True,
                          metadata={**pred.metadata, "tracked_from": str(analysis)})
    target = output or analysis.with_name(analysis.stem + "_tracked.h5")
    out.print(f"Wrote {write_dlc_h5(tracked, target)}")
