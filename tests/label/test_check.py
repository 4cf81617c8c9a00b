"""Drawing labeled frames for checking by eye (posekit.label.check)."""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
from fixture_paths import TEST_DATA

from posekit.errors import LabelFileError, MissingFileError, ProjectError
from posekit.io.coco import import_coco
from posekit.io.labels import Labels
from posekit.label.check import (
    DrawStyle,
    check_labels,
    draw_labels,
    drawing_names,
    enlargement,
    style_from_config,
    to_drawing,
)
from posekit.project import create_project, open_project
from posekit.project.labels import write_folder_labels

GRAY = 128
BODYPARTS = ["nose", "ear", "tail"]


def make_project(tmp_path: Path, *, size: tuple[int, int] = (48, 64), individuals=None,
                 points: np.ndarray | None = None, images: tuple[str, ...] = ("img0001.png",),
                 dotsize: int = 8):
    """A project with one folder ``session`` of gray images and their labels."""
    project = create_project("check", "ann", [], working_directory=tmp_path,
                             bodyparts=BODYPARTS, individuals=individuals)
    project.config.skeleton = [["nose", "ear"]]
    project.config.dotsize = dotsize
    project.save()
    project = open_project(project.root)
    folder = project.labeled_data_dir / "session"
    folder.mkdir(parents=True)
    for name in images:
        cv2.imwrite(str(folder / name), np.full((*size, 3), GRAY, np.uint8))
    if points is None:
        points = np.array([[[[10.0, 10.0], [50.0, 10.0], [np.nan, np.nan]]]])
    labels = Labels(images=[f"labeled-data/session/{name}" for name in images],
                    points=np.repeat(points, len(images), axis=0),
                    bodyparts=BODYPARTS, individuals=project.config.individual_names,
                    scorer="ann", multi_animal=individuals is not None)
    write_folder_labels(project, "session", labels)
    return project


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def rainbow(n: int) -> list[tuple[int, int, int]]:
    """Colors the config's default colormap gives n bodyparts, computed here independently."""
    cmap = matplotlib.colormaps["rainbow"]
    return [tuple(int(round(255 * c)) for c in cmap(i / (n - 1))[:3]) for i in range(n)]


def pixel(image: np.ndarray, xy) -> tuple[int, int, int]:
    x, y = np.round(xy).astype(int)
    return tuple(int(v) for v in image[y, x])


def test_drawing_has_the_size_colors_and_skeleton_asked_for(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    written = check_labels(project)
    out = project.labeled_data_dir / "session_labeled"
    assert written == [out / "img0001_bodypart.png"]
    image = read_rgb(written[0])
    scale = enlargement(48, 64)
    assert scale == 9
    assert image.shape[0] == 48 * scale and image.shape[1] > 64 * scale
    drawn = image[:, :64 * scale]
    colors = rainbow(3)
    # original pixel (10, 10) covers enlarged pixels 90..98 in x and y: its center is 94
    nose, ear = np.array([94, 94]), np.array([454, 94])
    np.testing.assert_array_equal(to_drawing(np.array([[10.0, 10.0], [50.0, 10.0]]), scale),
                                  [nose, ear])
    assert pixel(drawn, nose) == colors[0]
    assert pixel(drawn, ear) == colors[1]
    edge = pixel(drawn, (nose + ear) / 2)  # on the nose-ear edge; skeleton_color is black
    assert max(edge) < 40, edge
    assert pixel(drawn, (5, 400)) == (GRAY, GRAY, GRAY)  # far from every label
    # the tail is not labeled (NaN): its color appears nowhere on the image
    assert not np.all(drawn == np.array(colors[2], np.uint8), axis=-1).any()
    index = (out / "index.html").read_text()
    assert "img0001_bodypart.png" in index and "ArrowRight" in index


def test_large_images_keep_their_size_and_outputs_go_to_out_dir(tmp_path: Path) -> None:
    points = np.array([[[[100.0, 200.0], [300.0, 250.0], [500.0, 400.0]]]])
    project = make_project(tmp_path, size=(480, 640), points=points,
                           images=("img0001.png", "img0002.png"))
    written = check_labels(project, out_dir=tmp_path / "checks")
    assert [p.name for p in written] == ["img0001_bodypart.png", "img0002_bodypart.png"]
    assert all(p.parent == tmp_path / "checks" / "session_labeled" for p in written)
    image = read_rgb(written[1])
    assert image.shape[0] == 480 and image.shape[1] > 640
    for (x, y), color in zip(points[0, 0], rainbow(3), strict=True):
        assert pixel(image, (x, y)) == color


def test_individuals_have_different_marker_shapes(tmp_path: Path) -> None:
    points = np.array([[[[10.0, 10.0], [np.nan, np.nan], [np.nan, np.nan]],
                        [[50.0, 30.0], [np.nan, np.nan], [np.nan, np.nan]]]])
    project = make_project(tmp_path, individuals=["a", "b"], points=points, dotsize=40)
    image = read_rgb(check_labels(project)[0])
    scale = enlargement(48, 64)
    first, second = points[0, :, 0] * scale + (scale - 1) / 2
    color = rainbow(3)[0]
    assert pixel(image, first) == color and pixel(image, second) == color
    corner = np.array([16, 16])  # marker radius 20: inside a square, outside a circle
    assert pixel(image, first + corner) == (GRAY, GRAY, GRAY)  # individual a: circle
    assert pixel(image, second + corner) == color  # individual b: square


def test_missing_image_is_a_clear_error_and_nothing_is_drawn(tmp_path: Path) -> None:
    project = make_project(tmp_path, images=("img0001.png", "img0002.png"))
    (project.labeled_data_dir / "session" / "img0002.png").unlink()
    with pytest.raises(MissingFileError, match=r"img0002\.png.*CollectedData_ann\.h5"):
        check_labels(project)
    assert not (project.labeled_data_dir / "session_labeled").exists()


def test_corrupt_image_is_a_clear_error(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project.labeled_data_dir / "session" / "img0001.png").write_bytes(b"not a png")
    with pytest.raises(LabelFileError, match="cannot be decoded as an image"):
        check_labels(project)


def test_project_without_labels(tmp_path: Path) -> None:
    project = create_project("empty", "ann", [], working_directory=tmp_path)
    with pytest.raises(LabelFileError, match="holds no labeled images"):
        check_labels(project)


def test_invalid_colormap_or_skeleton_color(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.config.colormap = "no-such-map"
    with pytest.raises(ProjectError, match="'no-such-map' is not a matplotlib colormap"):
        style_from_config(project)
    project.config.colormap = "rainbow"
    project.config.skeleton_color = "blurple"
    with pytest.raises(ProjectError, match="'blurple' is not a color"):
        check_labels(project)


def test_imported_coco_labels_are_drawn(tmp_path: Path) -> None:
    project = create_project("zebra", "ann", [], working_directory=tmp_path)
    import_coco(project, TEST_DATA / "coco" / "zebra" / "test_zebra.json")
    written = check_labels(open_project(project.root))
    assert [p.name for p in written] == ["810_bodypart.png", "850_bodypart.png"]
    assert read_rgb(written[0]).shape[0] == 160 * enlargement(160, 160)


def test_drawing_names_follow_deeplabcut_and_never_clash() -> None:
    assert drawing_names(["labeled-data/v/img001.png", "labeled-data/v/a.png",
                          "labeled-data/v/a.jpg"]) == \
        ["img001_bodypart.png", "a_png_bodypart.png", "a_jpg_bodypart.png"]


def test_draw_labels_checks_its_inputs() -> None:
    style = DrawStyle(colors={"nose": (255, 0, 0)}, edges=[], edge_color=(0, 0, 0))
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\) uint8"):
        draw_labels(np.zeros((10, 10), np.uint8), np.zeros((1, 1, 2)), style,
                    bodyparts=["nose"])
    with pytest.raises(ValueError, match=r"points must be \(n_individuals, 1, 2\)"):
        draw_labels(np.zeros((10, 10, 3), np.uint8), np.zeros((1, 2, 2)), style,
                    bodyparts=["nose"])
