"""Label checking: draw every labeled frame with its keypoints, for a person to page through.

For each labeled-data folder ``<folder>`` the drawings go to ``labeled-data/<folder>_labeled/``
(DeepLabCut's place for them), one PNG per labeled image named ``<image stem>_bodypart.png``,
plus an ``index.html`` that pages through them in a browser (arrow keys or buttons).

A drawing is the image, enlarged by a whole factor when its shorter side is under
:data:`MIN_SIDE` pixels (nearest neighbour, so pixels stay sharp), with a legend panel to its
right. Each bodypart has one color, taken from the config's ``colormap`` (as DeepLabCut does);
skeleton edges are drawn in ``skeleton_color``; in multi-animal projects each individual has
its own marker shape (unique bodyparts a plus sign). Keypoints that are not visible (NaN) are
left out. Drawing uses OpenCV at sub-pixel precision: a keypoint at posekit coordinates
``(x, y)`` (origin at the top-left pixel's center) lands at ``((x + 0.5) * s - 0.5,
(y + 0.5) * s - 0.5)`` in an image enlarged ``s`` times.
"""

from __future__ import annotations

import html
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from posekit.errors import LabelFileError, MissingFileError, ProjectError
from posekit.io.atomic import atomic_path, write_text_atomic
from posekit.io.labels import Labels
from posekit.progress import track
from posekit.project.labels import read_folder_labels
from posekit.project.project import Project

logger = logging.getLogger(__name__)

MIN_SIDE = 400
"""Images whose shorter side is smaller are enlarged by a whole factor to reach it."""

OUTPUT_SUFFIX = "_labeled"
IMAGE_SUFFIX = "_bodypart.png"
SHAPES = ("circle", "square", "triangle_up", "diamond", "triangle_down", "hexagon")
"""Marker shape of each individual, in config order (repeating after six)."""
UNIQUE_SHAPE = "plus"

_SHIFT = 4  # OpenCV sub-pixel bits
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.45
_ROW = 18  # legend row height, pixels
_PANEL_BG = (40, 40, 40)
_TEXT = (235, 235, 235)


@dataclass(frozen=True)
class DrawStyle:
    """How keypoints are drawn.

    Attributes
    ----------
    colors : dict of str to (int, int, int)
        RGB color of each bodypart (pose and unique).
    edges : list of (str, str)
        Skeleton edges.
    edge_color : (int, int, int)
        RGB color of the edges.
    dotsize : int
        The config's ``dotsize``: marker radius in pixels is ``dotsize / 2`` (at least 3) for
        drawings up to 800 pixels (shorter side), growing in proportion beyond.
    """

    colors: dict[str, tuple[int, int, int]]
    edges: list[tuple[str, str]]
    edge_color: tuple[int, int, int]
    dotsize: int = 8


def bodypart_colors(colormap: str, bodyparts: list[str]) -> dict[str, tuple[int, int, int]]:
    """One RGB color per bodypart, sampled evenly from a matplotlib colormap.

    Parameters
    ----------
    colormap : str
        A matplotlib colormap name, e.g. ``"rainbow"``.
    bodyparts : list of str
        The bodyparts, in config order.

    Returns
    -------
    dict of str to (int, int, int)
        RGB in 0..255.

    Raises
    ------
    ProjectError
        If ``colormap`` is not a matplotlib colormap.
    """
    import matplotlib

    try:
        cmap = matplotlib.colormaps[colormap]
    except KeyError:
        raise ProjectError(f"The config's colormap {colormap!r} is not a matplotlib colormap; "
                           f"use one such as 'rainbow', 'viridis' or 'jet'.") from None
    positions = np.linspace(0.0, 1.0, len(bodyparts)) if len(bodyparts) > 1 else [0.0]
    return {name: tuple(int(round(255 * c)) for c in cmap(float(p))[:3])
            for name, p in zip(bodyparts, positions, strict=True)}


def style_from_config(project: Project) -> DrawStyle:
    """The drawing style a project's config asks for (colormap, skeleton, dotsize)."""
    import matplotlib.colors

    config = project.config
    try:
        edge = matplotlib.colors.to_rgb(config.skeleton_color)
    except ValueError:
        raise ProjectError(f"{project.config_path}: skeleton_color {config.skeleton_color!r} "
                           f"is not a color; use a name such as 'black' or a hex code "
                           f"'#rrggbb'.") from None
    return DrawStyle(colors=bodypart_colors(config.colormap, config.all_bodyparts),
                     edges=config.edges, edge_color=tuple(int(round(255 * c)) for c in edge),
                     dotsize=config.dotsize)


def enlargement(height: int, width: int) -> int:
    """The whole factor by which an image of this size is enlarged for drawing."""
    side = min(height, width)
    return 1 if side >= MIN_SIDE else math.ceil(MIN_SIDE / side)


def to_drawing(xy: np.ndarray, scale: int) -> np.ndarray:
    """Map posekit coordinates to a drawing enlarged ``scale`` times.

    Parameters
    ----------
    xy : ndarray, shape (..., 2)
        Pixel coordinates, origin at the top-left pixel's center.
    scale : int
        The enlargement.

    Returns
    -------
    ndarray, shape (..., 2)
        Coordinates in the enlarged image (same convention).
    """
    return (np.asarray(xy, dtype=np.float64) + 0.5) * scale - 0.5


def draw_labels(image: np.ndarray, points: np.ndarray, style: DrawStyle, *,
                bodyparts: list[str], individuals: list[str] | None = None,
                unique_points: np.ndarray | None = None,
                unique_bodyparts: list[str] | None = None, title: str = "") -> np.ndarray:
    """Draw keypoints, skeleton and a legend onto (an enlarged copy of) one image.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8, RGB
        The labeled image.
    points : ndarray, shape (n_individuals, n_bodyparts, 2)
        x, y in pixels; NaN rows are not drawn.
    style : DrawStyle
        Colors, edges and marker size.
    bodyparts : list of str
        Names of the bodyparts (axis 1 of ``points``).
    individuals : list of str, optional
        Names of the individuals; given for a multi-animal project (shapes differ and are
        listed in the legend).
    unique_points : ndarray, shape (n_unique_bodyparts, 2), optional
        Unique bodyparts of a multi-animal project.
    unique_bodyparts : list of str, optional
        Their names.
    title : str
        Shown at the top of the legend (e.g. the image path).

    Returns
    -------
    ndarray, shape (H * s, W * s + legend width, 3), uint8, RGB
        The drawing; ``s = enlargement(H, W)``.
    """
    image = np.asarray(image)
    points = np.asarray(points, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, found {image.shape} {image.dtype}")
    if points.ndim != 3 or points.shape[1:] != (len(bodyparts), 2):
        raise ValueError(f"points must be (n_individuals, {len(bodyparts)}, 2) for bodyparts "
                         f"{bodyparts}, found {points.shape}")
    height, width = image.shape[:2]
    scale = enlargement(height, width)
    canvas = np.ascontiguousarray(image)
    if scale > 1:
        canvas = cv2.resize(canvas, (width * scale, height * scale),
                            interpolation=cv2.INTER_NEAREST)
    radius = _radius(style.dotsize, min(canvas.shape[:2]))
    unique_bodyparts = list(unique_bodyparts or [])
    uniq = to_drawing(unique_points, scale) if unique_points is not None and unique_bodyparts \
        else np.zeros((0, 2))
    pts = to_drawing(points, scale)
    _draw_edges(canvas, pts, uniq, bodyparts, unique_bodyparts, style, radius)
    for ind in range(pts.shape[0]):
        shape = SHAPES[ind % len(SHAPES)] if individuals else "circle"
        for j, name in enumerate(bodyparts):
            _marker(canvas, pts[ind, j], shape, radius, style.colors[name])
    for j, name in enumerate(unique_bodyparts):
        _marker(canvas, uniq[j], UNIQUE_SHAPE, radius, style.colors[name])
    legend = _legend(canvas.shape[0], title, bodyparts + unique_bodyparts, style,
                     individuals or [], bool(unique_bodyparts))
    return np.concatenate([canvas, legend], axis=1)


def _radius(dotsize: int, side: int) -> float:
    return max(3.0, dotsize / 2 * max(1.0, side / 800))


def _fixed(xy: np.ndarray) -> tuple[int, int]:
    return int(round(xy[0] * (1 << _SHIFT))), int(round(xy[1] * (1 << _SHIFT)))


def _draw_edges(canvas: np.ndarray, pts: np.ndarray, uniq: np.ndarray, bodyparts: list[str],
                unique_bodyparts: list[str], style: DrawStyle, radius: float) -> None:
    thickness = max(1, int(round(radius / 3)))
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for a, b in style.edges:
        if a in bodyparts and b in bodyparts:
            ia, ib = bodyparts.index(a), bodyparts.index(b)
            pairs += [(pts[ind, ia], pts[ind, ib]) for ind in range(pts.shape[0])]
        elif a in unique_bodyparts and b in unique_bodyparts:
            pairs.append((uniq[unique_bodyparts.index(a)], uniq[unique_bodyparts.index(b)]))
    for p, q in pairs:
        if np.isfinite(p).all() and np.isfinite(q).all():
            cv2.line(canvas, _fixed(p), _fixed(q), style.edge_color, thickness, cv2.LINE_AA,
                     _SHIFT)


def _shape_polygon(shape: str, radius: float) -> np.ndarray:
    """Vertices (n, 2) of a filled marker centered on the origin."""
    if shape == "plus":
        a, b = radius, radius / 3
        return np.array([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a),
                         (-b, b), (-a, b), (-a, -b), (-b, -b)])
    corners = {"square": (4, 45.0, 0.9), "triangle_up": (3, -90.0, 1.2),
               "diamond": (4, 0.0, 1.15), "triangle_down": (3, 90.0, 1.2),
               "hexagon": (6, 0.0, 1.05)}[shape]
    count, start, grow = corners
    angles = np.deg2rad(start + 360.0 / count * np.arange(count))
    r = radius * grow if shape != "square" else radius * math.sqrt(2) * grow
    return np.stack([r * np.cos(angles), r * np.sin(angles)], axis=1)


def _marker(canvas: np.ndarray, xy: np.ndarray, shape: str, radius: float,
            color: tuple[int, int, int]) -> None:
    """A filled marker with a dark outline; its center pixel has exactly ``color``."""
    if not np.isfinite(xy).all():
        return
    outline = (0, 0, 0)
    if shape == "circle":
        center, r = _fixed(xy), int(round(radius * (1 << _SHIFT)))
        cv2.circle(canvas, center, r, color, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(canvas, center, r, outline, 1, cv2.LINE_AA, _SHIFT)
        return
    polygon = np.round((_shape_polygon(shape, radius) + xy) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(canvas, [polygon], color, cv2.LINE_AA, _SHIFT)
    cv2.polylines(canvas, [polygon], True, outline, 1, cv2.LINE_AA, _SHIFT)


def _legend(height: int, title: str, names: list[str], style: DrawStyle,
            individuals: list[str], has_unique: bool) -> np.ndarray:
    """A legend panel of the given height: title, bodypart colors, individual shapes."""
    rows: list[tuple[str, str, tuple[int, int, int]]] = [
        ("circle", name, style.colors[name]) for name in names]
    if has_unique:
        rows.append(("", "unique bodyparts: plus", _TEXT))
    rows += [(SHAPES[i % len(SHAPES)], name, (200, 200, 200))
             for i, name in enumerate(individuals)]
    per_column = max(1, (height - 2 * _ROW) // _ROW)
    columns = max(1, math.ceil(len(rows) / per_column))
    text_width = max([cv2.getTextSize(label, _FONT, _FONT_SCALE, 1)[0][0]
                      for _, label, _ in rows] + [60])
    column_width = 30 + text_width + 10
    title = title if len(title) <= 40 else "..." + title[-37:]
    title_width = cv2.getTextSize(title, _FONT, _FONT_SCALE, 1)[0][0] + 20
    panel = np.empty((height, max(columns * column_width, title_width), 3), dtype=np.uint8)
    panel[:] = _PANEL_BG
    cv2.putText(panel, title, (10, _ROW - 4), _FONT, _FONT_SCALE, _TEXT, 1, cv2.LINE_AA)
    for k, (shape, label, color) in enumerate(rows):
        x0 = (k // per_column) * column_width
        y = _ROW * (k % per_column + 2)
        if shape:
            _marker(panel, np.array([x0 + 16.0, y - 5.0]), shape, 5.0, color)
        cv2.putText(panel, label, (x0 + 30, y), _FONT, _FONT_SCALE, _TEXT, 1, cv2.LINE_AA)
    return panel


def check_labels(project: Project, *, out_dir: str | Path | None = None) -> list[Path]:
    """Draw every labeled image of a project with its keypoints, for checking by eye.

    Parameters
    ----------
    project : Project
        The project.
    out_dir : path-like, optional
        Where the ``<folder>_labeled`` folders go; ``labeled-data/`` by default (as in
        DeepLabCut).

    Returns
    -------
    list of Path
        The drawings written (``<image stem>_bodypart.png``), folder by folder; each folder
        also gets an ``index.html`` to page through them.

    Raises
    ------
    LabelFileError
        If the project has no labeled images, a label file disagrees with the config, or an
        image cannot be decoded.
    MissingFileError
        If a labeled image does not exist (nothing is drawn then).
    ProjectError
        If the config's colormap or skeleton color is invalid.
    """
    style = style_from_config(project)
    folders = [(folder, read_folder_labels(project, folder))
               for folder in project.labeled_folders()]
    folders = [(folder, labels) for folder, labels in folders if len(labels)]
    if not folders:
        raise LabelFileError(f"{project.labeled_data_dir} holds no labeled images. Label "
                             f"frames first (or import labels), then check them.")
    _check_images_exist(project, folders)
    base = Path(out_dir) if out_dir is not None else project.labeled_data_dir
    jobs = [(base / f"{folder.name}{OUTPUT_SUFFIX}" / name, labels, row)
            for folder, labels in folders
            for row, name in enumerate(drawing_names(labels.images))]
    written: dict[Path, list[Path]] = {}
    for target, labels, row in track(jobs, total=len(jobs), description="Drawing labels"):
        written.setdefault(target.parent, []).append(_draw_one(project, labels, row, style,
                                                               target))
    for target_dir, paths in written.items():
        write_index(target_dir, [p.name for p in paths], title=target_dir.name)
    logger.info("drew %d labeled images into %d folders", len(jobs), len(written))
    return [path for paths in written.values() for path in paths]


def _check_images_exist(project: Project, folders: list[tuple[Path, Labels]]) -> None:
    missing = [(project.labels_path(folder), image) for folder, labels in folders
               for image in labels.images if not (project.root / image).is_file()]
    if missing:
        label_file, image = missing[0]
        raise MissingFileError(
            f"{len(missing)} labeled images do not exist under {project.root}, e.g. {image} "
            f"(labeled in {label_file}). Restore the images, or remove their rows from the "
            f"label file.")


def drawing_names(images: list[str]) -> list[str]:
    """File names of the drawings of ``images``: ``<stem>_bodypart.png``, as DeepLabCut names
    them; ``<name with '.' as '_'>_bodypart.png`` where two images share a stem."""
    stems = [Path(image).stem for image in images]
    return [f"{Path(image).name.replace('.', '_') if stems.count(stem) > 1 else stem}"
            f"{IMAGE_SUFFIX}" for image, stem in zip(images, stems, strict=True)]


def _draw_one(project: Project, labels: Labels, row: int, style: DrawStyle,
              target: Path) -> Path:
    image_path = project.root / labels.images[row]
    bgr = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise LabelFileError(f"{image_path} cannot be decoded as an image. Replace it with the "
                             f"original frame, or remove its row from the label file.")
    drawing = draw_labels(
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), labels.points[row], style,
        bodyparts=labels.bodyparts,
        individuals=labels.individuals if labels.multi_animal else None,
        unique_points=labels.unique_points[row], unique_bodyparts=labels.unique_bodyparts,
        title=labels.images[row])
    with atomic_path(target) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(drawing, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {target}")
    return target


_INDEX_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; background: #222; color: #eee; margin: 1em; }}
button {{ font-size: 1em; }} img {{ max-width: 100%; display: block; margin-top: .5em; }}
#list a {{ color: #9cf; margin-right: .8em; }}
</style></head><body>
<h1>{title}</h1>
<p><button id="prev">&larr; previous</button> <button id="next">next &rarr;</button>
<span id="where"></span> (arrow keys page through)</p>
<img id="view" alt="labeled image">
<p id="list">{links}</p>
<script>
const images = {images};
let current = 0;
function show(i) {{
  current = (i + images.length) % images.length;
  document.getElementById("view").src = encodeURIComponent(images[current]);
  document.getElementById("where").textContent =
    (current + 1) + " / " + images.length + ": " + images[current];
}}
document.getElementById("prev").onclick = () => show(current - 1);
document.getElementById("next").onclick = () => show(current + 1);
document.addEventListener("keydown", (e) => {{
  if (e.key === "ArrowLeft") show(current - 1);
  if (e.key === "ArrowRight") show(current + 1);
}});
show(0);
</script></body></html>
"""


def write_index(folder: Path, names: list[str], *, title: str) -> Path:
    """Write ``folder/index.html``: a page showing ``names`` one at a time, with links to all."""
    links = " ".join(f'<a href="{html.escape(quote(name))}" onclick="show({i}); return false;">'
                     f'{html.escape(name)}</a>' for i, name in enumerate(names))
    text = _INDEX_TEMPLATE.format(title=html.escape(title), links=links,
                                  images=json.dumps(names).replace("</", "<\\/"))
    return write_text_atomic(folder / "index.html", text)
