"""Seeing 3D poses: a skeleton plot of one frame, a 3D video, and 3D points reprojected
onto a camera's video.

Figures are made with matplotlib's object API (no pyplot global state); videos are written
with OpenCV's ``VideoWriter`` (codec ``mp4v``) through a temporary file, so a failed run
never leaves half a video.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import CalibrationError, VideoError
from posekit.io.atomic import atomic_path
from posekit.io.predictions import Predictions, read_predictions
from posekit.progress import track
from posekit.threed.calibfile import Calibration, read_calibration
from posekit.threed.points3d import Points3D, read_points3d

logger = logging.getLogger(__name__)

Edges = Sequence[Sequence[str]]


def _points(points: Points3D | str | os.PathLike[str]) -> Points3D:
    return points if isinstance(points, Points3D) else read_points3d(points)


def _edge_indices(p: Points3D, edges: Edges | None) -> list[tuple[int, int]]:
    edges = edges if edges is not None else (p.metadata.get("skeleton_edges") or [])
    out = []
    for edge in edges:
        a, b = (str(e) for e in edge)
        missing = [x for x in (a, b) if x not in p.bodyparts]
        if missing:
            raise CalibrationError(f"Skeleton edge {a!r}-{b!r} names bodyparts {missing} that "
                                   f"the 3D points lack; bodyparts are {p.bodyparts}.")
        out.append((p.bodyparts.index(a), p.bodyparts.index(b)))
    return out


def _individual(p: Points3D, individual: int | str) -> int:
    if isinstance(individual, str):
        if individual not in p.individuals:
            raise CalibrationError(f"No individual {individual!r}; individuals are "
                                   f"{p.individuals}.")
        return p.individuals.index(individual)
    if not 0 <= individual < len(p.individuals):
        raise CalibrationError(f"Individual index {individual} out of range 0.."
                               f"{len(p.individuals) - 1}.")
    return individual


def _check_frame(p: Points3D, frame: int) -> None:
    if not 0 <= frame < p.n_frames:
        raise CalibrationError(f"Frame {frame} out of range: the 3D points have frames 0.."
                               f"{p.n_frames - 1}.")


def _limits(p: Points3D) -> tuple[np.ndarray, float]:
    pts = p.data.reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if not len(pts):
        return np.zeros(3), 1.0
    lo, hi = np.percentile(pts, 1, axis=0), np.percentile(pts, 99, axis=0)
    return (lo + hi) / 2, float(max((hi - lo).max() / 2, 1e-6)) * 1.1


def _draw_frame(ax: Any, p: Points3D, frame: int, edges: list[tuple[int, int]],
                center: np.ndarray, half: float) -> None:
    ax.cla()
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for i in range(len(p.individuals)):
        xyz = p.data[frame, i]
        color = colors[i % len(colors)]
        ok = np.isfinite(xyz).all(axis=1)
        ax.scatter(xyz[ok, 0], xyz[ok, 1], xyz[ok, 2], s=12, color=color)
        for a, b in edges:
            if ok[a] and ok[b]:
                ax.plot(*xyz[[a, b]].T, color=color, linewidth=1.5)
    for k in range(3):
        getattr(ax, f"set_{'xyz'[k]}lim")(center[k] - half, center[k] + half)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    ax.set_title(f"frame {frame}")


def plot_pose_3d(points: Points3D | str | os.PathLike[str], frame: int, *,
                 edges: Edges | None = None, elev: float = 20.0, azim: float = -60.0) -> Any:
    """3D skeleton of one frame.

    Parameters
    ----------
    points : Points3D or path-like
        3D poses or their h5 file.
    frame : int
        Frame to draw.
    edges : sequence of (bodypart, bodypart), optional
        Skeleton; default ``points.metadata["skeleton_edges"]`` (from SLEAP files).
    elev, azim : float
        View angles in degrees.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    p = _points(points)
    _check_frame(p, frame)
    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot(projection="3d")
    center, half = _limits(p)
    _draw_frame(ax, p, frame, _edge_indices(p, edges), center, half)
    ax.view_init(elev=elev, azim=azim)
    return fig


def _open_writer(path: Path, fps: float, size: tuple[int, int]) -> Any:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
    if not writer.isOpened():
        raise VideoError(f"Cannot open a video writer for {path} (mp4v, {size[0]}x{size[1]}, "
                         f"{fps} fps); check the folder is writable and the name ends in .mp4.")
    return writer


def _frames(p: Points3D, frames: Sequence[int] | None) -> list[int]:
    chosen = list(range(p.n_frames)) if frames is None else [int(f) for f in frames]
    for f in chosen:
        _check_frame(p, f)
    if not chosen:
        raise CalibrationError("No frames to draw: the 3D points are empty or frames is empty.")
    return chosen


@dataclass
class Video3DOptions:
    """How :func:`write_video_3d` renders.

    Attributes
    ----------
    fps : float
        Frames per second of the video.
    size : tuple of int
        Video (width, height) in pixels.
    elev, azim : float
        Initial view angles (degrees).
    rotate : float
        Degrees of azimuth added per frame (a turning view).
    """

    fps: float = 30.0
    size: tuple[int, int] = (640, 640)
    elev: float = 20.0
    azim: float = -60.0
    rotate: float = 0.0


@dataclass
class ReprojectionOptions:
    """How :func:`write_reprojection_video` draws.

    Attributes
    ----------
    frame_offset : int
        3D frame f is drawn on video frame f + frame_offset.
    pcutoff : float
        2D detections below this likelihood are not drawn.
    radius : int
        Dot radius in pixels.
    """

    frame_offset: int = 0
    pcutoff: float = 0.6
    radius: int = 3


def write_video_3d(points: Points3D | str | os.PathLike[str], output: str | os.PathLike[str],
                   *, edges: Edges | None = None, frames: Sequence[int] | None = None,
                   options: Video3DOptions | None = None) -> Path:
    """Render the 3D skeleton of every frame into an mp4 video.

    Parameters
    ----------
    points : Points3D or path-like
    output : path-like
        ``.mp4`` file.
    edges : sequence of (bodypart, bodypart), optional
    frames : sequence of int, optional
        Frames to render (default all).
    options : Video3DOptions, optional
        fps, size, view angles, rotation.

    Returns
    -------
    Path
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    opts = options or Video3DOptions()
    fps, size, elev, azim, rotate = opts.fps, opts.size, opts.elev, opts.azim, opts.rotate
    p = _points(points)
    chosen = _frames(p, frames)
    idx = _edge_indices(p, edges)
    center, half = _limits(p)
    dpi = 100
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection="3d")
    with atomic_path(output) as tmp:
        writer = _open_writer(tmp, fps, size)
        try:
            for k, f in enumerate(track(chosen, description="3D video")):
                _draw_frame(ax, p, f, idx, center, half)
                ax.view_init(elev=elev, azim=azim + rotate * k)
                canvas.draw()
                rgba = np.asarray(canvas.buffer_rgba())
                writer.write(np.ascontiguousarray(rgba[..., 2::-1]))
        finally:
            writer.release()
    return Path(output)


def _draw_2d(image: np.ndarray, xy: np.ndarray, edges: list[tuple[int, int]],
             color: tuple[int, int, int], radius: int, cross: bool) -> None:
    import cv2

    ok = np.isfinite(xy).all(axis=1)
    for a, b in edges:
        if ok[a] and ok[b]:
            cv2.line(image, tuple(int(v) for v in np.round(xy[a])),
                     tuple(int(v) for v in np.round(xy[b])), color, 1, cv2.LINE_AA)
    for k in np.flatnonzero(ok):
        center = tuple(int(v) for v in np.round(xy[k]))
        if cross:
            cv2.drawMarker(image, center, color, cv2.MARKER_CROSS, 2 * radius + 2, 1)
        else:
            cv2.circle(image, center, radius, color, -1, cv2.LINE_AA)


def write_reprojection_video(calibration: str | os.PathLike[str] | Calibration,
                             points: Points3D | str | os.PathLike[str],
                             video: str | os.PathLike[str], output: str | os.PathLike[str], *,
                             camera: str,
                             points2d: Predictions | str | os.PathLike[str] | None = None,
                             edges: Edges | None = None,
                             options: ReprojectionOptions | None = None) -> Path:
    """Draw the 3D points reprojected into one camera on that camera's video.

    Reprojections are filled green dots joined by the skeleton; the camera's own 2D
    detections (when given) are red crosses, so misfits are easy to see.

    Parameters
    ----------
    calibration : path-like or Calibration
    points : Points3D or path-like
    video : path-like
        The camera's video.
    output : path-like
        ``.mp4`` file to write.
    camera : str
        Camera whose video this is.
    points2d : Predictions or path-like, optional
        The camera's 2D predictions, drawn for comparison.
    edges : sequence of (bodypart, bodypart), optional
    options : ReprojectionOptions, optional
        Frame offset, p-cutoff for the 2D detections, dot size.

    Returns
    -------
    Path
    """
    import cv2

    opts = options or ReprojectionOptions()
    calib = calibration if isinstance(calibration, Calibration) else read_calibration(
        calibration)
    cam = calib.camera(camera)
    p = _points(points)
    idx = _edge_indices(p, edges)
    proj = cam.project(p.data.reshape(-1, 3)).reshape(*p.data.shape[:3], 2)
    pred = read_predictions(points2d) if points2d is not None and not isinstance(
        points2d, Predictions) else points2d
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise VideoError(f"Cannot open video {video} (camera {camera!r}).")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    if tuple(size) != tuple(cam.size):
        logger.warning("video %s is %dx%d but camera %s was calibrated at %dx%d", video,
                       *size, camera, *cam.size)
    try:
        with atomic_path(output) as tmp:
            writer = _open_writer(tmp, fps, size)
            try:
                total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
                _copy_frames(cap, writer, total, (p, proj, pred, idx), opts)
            finally:
                writer.release()
    finally:
        cap.release()
    return Path(output)


def _copy_frames(cap: Any, writer: Any, total: int, drawing: tuple,
                 opts: ReprojectionOptions) -> None:
    import itertools

    p, proj, pred, idx = drawing
    offset, pcutoff = opts.frame_offset, opts.pcutoff
    video_frame = 0
    frames = range(total) if total > 0 else itertools.count()
    for _ in track(frames, total=total if total > 0 else None,
                   description="reprojection video"):
        ok, image = cap.read()
        if not ok:
            break
        f = video_frame - offset
        if 0 <= f < p.n_frames:
            for i in range(len(p.individuals)):
                if pred is not None and video_frame < pred.n_frames:
                    det = pred.data[video_frame, min(i, len(pred.individuals) - 1)]
                    order = [pred.bodyparts.index(b) if b in pred.bodyparts else -1
                             for b in p.bodyparts]
                    xy = np.where((det[order, 2] >= pcutoff)[:, None], det[order, :2], np.nan)
                    xy[np.array(order) < 0] = np.nan
                    _draw_2d(image, xy, [], (0, 0, 255), opts.radius + 1, True)
                _draw_2d(image, proj[f, i], idx, (0, 255, 0), opts.radius, False)
        writer.write(image)
        video_frame += 1
