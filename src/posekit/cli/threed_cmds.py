"""Commands for multi-camera calibration, checking it, and triangulation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posekit.cli.app import app, friendly, out
from posekit.errors import CalibrationError


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    """Parse ``NAME=VALUE`` arguments."""
    parsed = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise typer.BadParameter(f"{what} must look like CAMERA=VALUE, found {value!r}")
        parsed[name] = rest
    return parsed


@app.command()
@friendly
def calibrate(
    calib_dir: Annotated[Path, typer.Argument(help="Folder of board images/videos per camera.")],
    board: Annotated[Path, typer.Option(help="Board description (TOML).")],
    cameras: Annotated[list[str] | None, typer.Option(help="Camera names, in order.")] = None,
    output: Annotated[Path | None, typer.Option(
        help="calibration.toml to write (default CALIB_DIR/calibration.toml).")] = None,
    fisheye: Annotated[bool, typer.Option(help="Fisheye lens model.")] = False,
    video_frames: Annotated[int, typer.Option(help="Frames sampled per video.")] = 200,
    min_views: Annotated[int, typer.Option(help="Board views a camera needs.")] = 5,
) -> None:
    """Intrinsics per camera, then all extrinsics by bundle adjustment; anipose's TOML."""
    from posekit.threed import CalibrationOptions
    from posekit.threed import calibrate as run

    options = CalibrationOptions(fisheye=fisheye, video_frames=video_frames,
                                 min_views=min_views)
    result = run(calib_dir, board, cameras=cameras, output=output, options=options)
    out.print(result.table())
    out.print(f"Wrote {result.path}")


@app.command("check-calibration")
@friendly
def check_calibration(
    calibration: Annotated[Path, typer.Argument(help="calibration.toml to check.")],
    points: Annotated[list[str] | None, typer.Option(
        help="2D detections per camera: CAMERA=FILE (analysis h5/csv).")] = None,
    board: Annotated[Path | None, typer.Option(help="Or: a board TOML ...")] = None,
    calib_dir: Annotated[Path | None, typer.Option(help="... and its images/videos.")] = None,
    pcutoff: Annotated[float, typer.Option(help="Ignore 2D points below this.")] = 0.6,
) -> None:
    """Reprojection error per camera; flags cameras far worse than the others (exit 1)."""
    from posekit.threed import CheckOptions, board_points, read_calibration
    from posekit.threed import check_calibration as run

    if points:
        detections: dict = _pairs(points, "--points")
    elif board is not None and calib_dir is not None:
        detections = board_points(calib_dir, board, cameras=read_calibration(calibration).names)
    else:
        raise CalibrationError("Give 2D detections with --points CAMERA=FILE ..., or a board "
                               "with --board FILE --calib-dir DIR.")
    result = run(calibration, detections, options=CheckOptions(pcutoff=pcutoff))
    out.print(result.table())
    if result.flagged:
        out.print(f"Flagged: {', '.join(result.flagged)}")
        raise typer.Exit(1)


@app.command()
@friendly
def triangulate(
    calibration: Annotated[Path, typer.Argument(help="calibration.toml.")],
    views: Annotated[list[str], typer.Option(help="2D predictions: CAMERA=FILE ...")],
    output: Annotated[Path, typer.Option(help="3D h5 to write.")],
    pcutoff: Annotated[float, typer.Option(help="Use 2D points above this.")] = 0.6,
    ransac: Annotated[bool, typer.Option(help="Reject outlier cameras.")] = True,
    smooth_window: Annotated[int, typer.Option(help="Temporal median window (0: off).")] = 0,
    offset: Annotated[list[str] | None, typer.Option(
        help="Frame offset per camera: CAMERA=N.")] = None,
) -> None:
    """3D keypoints from several cameras' 2D predictions (DLT, likelihood-weighted)."""
    from posekit.threed import TriangulateOptions
    from posekit.threed import triangulate as run

    offsets = {name: int(value) for name, value in _pairs(offset, "--offset").items()}
    options = TriangulateOptions(pcutoff=pcutoff, ransac=ransac, smooth_window=smooth_window,
                                 frame_offsets=offsets)
    points = run(calibration, _pairs(views, "--views"), output=output, options=options)
    out.print(points.camera_summary())
    out.print(f"Wrote {output}")
