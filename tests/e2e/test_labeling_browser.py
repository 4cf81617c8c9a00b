"""The labeling app in a real headless Chromium: label by clicking, drag, hide, navigate by
keyboard, reload, and find the same coordinates in the h5 with pandas.

Run with ``pytest -m e2e tests/e2e``. Needs Debian's chromium at /usr/bin/chromium
(``apt-get install chromium``); Playwright's own browser download is not used. With
``POSEKIT_UPDATE_SCREENSHOTS=1`` the first test also refreshes docs/img/labeling-view.png.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixture_paths import REPO, TEST_DATA

from posekit.io.labels import H5_KEY
from posekit.label.server import LabelingServer
from posekit.project import open_project
from posekit.project.labels import read_folder_labels, write_folder_labels

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = REPO / "docs" / "img" / "labeling-view.png"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's chromium at /usr/bin/chromium "
                              "(apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def copy_project(name: str, target: Path) -> Path:
    shutil.copytree(TEST_DATA / "label_app" / name, target)
    for path in target.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


@pytest.fixture
def openfield(tmp_path: Path) -> Path:
    """The open-field project with img0002 unlabeled (its row removed)."""
    root = copy_project("openfield", tmp_path / "openfield")
    project = open_project(root)
    labels = read_folder_labels(project, "m4s1")
    keep = [i for i, image in enumerate(labels.images) if not image.endswith("img0002.png")]
    write_folder_labels(project, "m4s1", labels.select(keep))
    return root


@pytest.fixture
def server(openfield: Path) -> Iterator[LabelingServer]:
    with LabelingServer(openfield) as running:
        yield running


def new_page(browser, width: int = 1280, height: int = 800):
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the app's CSP forbids
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(30_000)  # generous: CI machines may be slow or busy
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page


def open_folder(page, server: LabelingServer, folder: str, frame: str | None = None) -> None:
    url = server.url.replace("/?", f"/label?folder={folder}&")
    if frame:
        url += f"&frame={frame}"
    page.goto(url)
    wait_frame(page, frame)


def wait_frame(page, name: str | None = None) -> None:
    if name is None:
        page.wait_for_function("window.posekit && window.posekit.frame()")
    else:
        page.wait_for_function(f"window.posekit && window.posekit.frame() && "
                               f"window.posekit.frame().name === '{name}'")


def wait_saved(page) -> None:
    page.wait_for_function("window.posekit.saveState() === 'saved'", timeout=30_000)


def canvas_box(page) -> dict:
    return page.evaluate("(() => { const r = document.getElementById('canvas')"
                         ".getBoundingClientRect(); return {left: r.left, top: r.top}; })()")


def to_screen(page, x: float, y: float) -> tuple[int, int]:
    """Whole screen pixels nearest to image point (x, y)."""
    view, box = page.evaluate("window.posekit.view()"), canvas_box(page)
    return (round(box["left"] + view["tx"] + (x + 0.5) * view["scale"]),
            round(box["top"] + view["ty"] + (y + 0.5) * view["scale"]))


def to_image(page, sx: int, sy: int) -> tuple[float, float]:
    """Image point under screen pixel (sx, sy), accounting for zoom and pan."""
    view, box = page.evaluate("window.posekit.view()"), canvas_box(page)
    return ((sx - box["left"] - view["tx"]) / view["scale"] - 0.5,
            (sy - box["top"] - view["ty"]) / view["scale"] - 0.5)


def h5_row(root: Path, image: str) -> pd.Series:
    table = pd.read_hdf(root / "labeled-data/m4s1/CollectedData_Pranav.h5", H5_KEY)
    return table.loc[("labeled-data", "m4s1", image)]["Pranav"]


def test_label_drag_hide_navigate_reload(browser, server: LabelingServer, openfield: Path,
                                         tmp_path: Path) -> None:
    page = new_page(browser)
    page.goto(server.url)
    page.click("tr[data-folder='m4s1'] a")  # from the overview into labeling
    wait_frame(page, "img0002.png")  # the first frame that is not complete
    assert page.evaluate("window.posekit.selected()") == "animal/snout"

    # zoom in at the mouse first, so clicks must be converted with a scale other than "fit"
    page.mouse.move(*to_screen(page, 60, 300))
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(100)
    assert page.evaluate("window.posekit.view().scale") > 2

    clicks = {}
    for bodypart, (x, y) in [("snout", (12.3, 340.7)), ("leftear", (38.4, 354.1)),
                             ("tailbase", (99.4, 256.2))]:
        if bodypart == "tailbase":  # rightear is selected now: right-click hides it
            page.mouse.click(*to_screen(page, 150, 380), button="right")
        sx, sy = to_screen(page, x, y)
        page.mouse.click(sx, sy)
        clicks[bodypart] = to_image(page, sx, sy)
    assert page.evaluate("window.posekit.frame().hidden") == ["animal/rightear"]

    # drag the snout onto the snout
    start = to_screen(page, *clicks["snout"])
    end = to_screen(page, 24.6, 354.1)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()
    clicks["snout"] = to_image(page, *end)
    assert abs(clicks["snout"][0] - 12.3) > 5
    assert page.evaluate("window.posekit.selected()") == "animal/tailbase"

    wait_saved(page)
    page.keyboard.press("ArrowRight")
    wait_frame(page, "img0003.png")
    page.reload()
    wait_frame(page, "img0003.png")  # the URL remembers the frame
    page.keyboard.press("ArrowLeft")
    wait_frame(page, "img0002.png")
    shown = page.evaluate("window.posekit.frame()")
    assert shown["hidden"] == ["animal/rightear"]
    for bodypart, (x, y) in clicks.items():
        assert shown["points"][f"animal/{bodypart}"] == pytest.approx([x, y], abs=0.01)

    row = h5_row(openfield, "img0002.png")
    for bodypart, (x, y) in clicks.items():
        assert abs(row[(bodypart, "x")] - x) < 0.5 and abs(row[(bodypart, "y")] - y) < 0.5
    assert np.isnan(row[("rightear", "x")]) and np.isnan(row[("rightear", "y")])
    csv = (openfield / "labeled-data/m4s1/CollectedData_Pranav.csv").read_text()
    assert "img0002.png" in csv
    assert page.evaluate("window.posekit.status()") == "ccccce"  # img0005 is not labeled

    page.keyboard.press("f")  # fit, then zoom on the mouse for the documentation screenshot
    page.mouse.move(*to_screen(page, 60, 300))
    page.mouse.wheel(0, -250)
    page.mouse.move(5, 5)
    page.wait_for_timeout(150)
    shot = tmp_path / "labeling-view.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("POSEKIT_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    assert page.errors == []


def test_undo_redo_and_keyboard_bodypart_choice(browser, server: LabelingServer,
                                                openfield: Path) -> None:
    page = new_page(browser)
    open_folder(page, server, "m4s1", "img0005.png")
    page.keyboard.press("3")
    assert page.evaluate("window.posekit.selected()") == "animal/rightear"
    page.mouse.click(*to_screen(page, 50, 60))
    page.keyboard.press("n")  # tailbase (selected after placing rightear) not visible
    frame = page.evaluate("window.posekit.frame()")
    assert list(frame["points"]) == ["animal/rightear"] and frame["hidden"] == ["animal/tailbase"]
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert page.evaluate("window.posekit.frame().points") == {}
    page.keyboard.press("Control+Shift+z")
    assert list(page.evaluate("window.posekit.frame().points")) == ["animal/rightear"]
    wait_saved(page)
    row = h5_row(openfield, "img0005.png")
    assert not np.isnan(row[("rightear", "x")]) and np.isnan(row[("tailbase", "x")])
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.keyboard.press("Escape")
    assert not page.is_visible("#help")
    assert page.errors == []


def test_two_tabs_conflict_on_one_frame_and_merge_on_two(browser, server: LabelingServer,
                                                         openfield: Path) -> None:
    tab_a, tab_b = new_page(browser), new_page(browser)
    open_folder(tab_a, server, "m4s1", "img0005.png")
    open_folder(tab_b, server, "m4s1", "img0005.png")
    tab_a.mouse.click(*to_screen(tab_a, 100, 100))
    wait_saved(tab_a)
    tab_b.mouse.click(*to_screen(tab_b, 300, 300))
    tab_b.wait_for_selector("#conflict:not([hidden])")
    assert "changed elsewhere" in tab_b.inner_text("#conflict-text")
    assert tab_b.evaluate("window.posekit.saveState()") == "conflict"
    tab_b.click("#conflict-theirs")
    assert tab_b.evaluate("window.posekit.frame().points")["animal/snout"] == \
        pytest.approx(to_image(tab_a, *to_screen(tab_a, 100, 100)), abs=0.01)
    # different frames of the same folder: both edits survive
    tab_b.keyboard.press("Home")
    wait_frame(tab_b, "img0000.png")
    tab_b.keyboard.press("1")
    tab_b.keyboard.press("Delete")  # remove the snout of img0000
    tab_a.mouse.click(*to_screen(tab_a, 400, 50))  # leftear of img0005
    wait_saved(tab_a)
    wait_saved(tab_b)
    assert np.isnan(h5_row(openfield, "img0000.png")[("snout", "x")])
    assert not np.isnan(h5_row(openfield, "img0005.png")[("leftear", "x")])
    assert tab_a.errors == [] and tab_b.errors == []


def test_refinement_accepts_and_corrects_predictions(browser, openfield: Path) -> None:
    values = np.array([[[50.0, 60.0, 0.95], [70.0, 80.0, 0.3], [90.0, 100.0, 0.8],
                        [300.0, 200.0, 0.99]]])
    columns = pd.MultiIndex.from_tuples(
        [("DLC", bp, c) for bp in ["snout", "leftear", "rightear", "tailbase"]
         for c in ("x", "y", "likelihood")], names=["scorer", "bodyparts", "coords"])
    index = pd.MultiIndex.from_tuples([("labeled-data", "m4s1", "img0005.png")])
    pd.DataFrame(values.reshape(1, -1), index=index, columns=columns).to_hdf(
        openfield / "labeled-data/m4s1/machinelabels-iter0.h5", key=H5_KEY)
    with LabelingServer(openfield) as server:
        page = new_page(browser)
        open_folder(page, server, "m4s1", "img0005.png")
        assert page.is_visible("#predictions")
        # correct the leftear prediction by dragging it
        start = to_screen(page, 70, 80)
        end = (start[0] + 20, start[1] + 10)
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*end, steps=4)
        page.mouse.up()
        corrected = to_image(page, *end)
        wait_saved(page)
        page.keyboard.press("Enter")  # accept the rest
        page.wait_for_function("Object.keys(window.posekit.frame().points).length === 4")
        wait_saved(page)
        assert page.errors == []
    row = h5_row(openfield, "img0005.png")
    assert (row[("snout", "x")], row[("snout", "y")]) == (50.0, 60.0)
    assert (row[("tailbase", "x")], row[("tailbase", "y")]) == (300.0, 200.0)
    assert abs(row[("leftear", "x")] - corrected[0]) < 0.5
    assert abs(row[("leftear", "y")] - corrected[1]) < 0.5


def test_multi_animal_individuals_and_shapes(browser, tmp_path: Path) -> None:
    root = copy_project("madlc", tmp_path / "madlc")
    with LabelingServer(root) as server:
        page = new_page(browser)
        open_folder(page, server, "video", "img002.png")
        assert page.is_visible("#individuals")
        assert page.evaluate("window.posekit.selected()") == "Animal1/A"
        page.keyboard.press("i")
        assert page.evaluate("window.posekit.selected()") == "Animal2/A"
        page.mouse.click(*to_screen(page, 10, 12))
        page.click("li[data-bodypart='E']")
        page.mouse.click(*to_screen(page, 20, 5))
        wait_saved(page)
        assert page.errors == []
    table = pd.read_hdf(root / "labeled-data/video/CollectedData_LM.h5", H5_KEY)
    row = table.loc[("labeled-data", "video", "img002.png")]["Scorer"]
    assert abs(row[("Animal2", "A", "x")] - 10) < 0.5 and abs(row[("Animal2", "A", "y")] - 12) < 0.5
    assert abs(row[("single", "E", "x")] - 20) < 0.5
    assert np.isnan(row[("Animal1", "A", "x")])


def test_edits_made_while_the_server_is_down_are_saved_when_it_is_back(
        browser, openfield: Path) -> None:
    first = LabelingServer(openfield).start()
    port, token = first.port, first.token
    page = new_page(browser)
    open_folder(page, first, "m4s1", "img0005.png")
    page.mouse.click(*to_screen(page, 100, 100))
    wait_saved(page)
    first.stop()
    page.mouse.click(*to_screen(page, 200, 150))  # leftear, while the server is gone
    page.wait_for_function("window.posekit.saveState() === 'offline'", timeout=30_000)
    assert "unreachable" in page.inner_text("#save-state")
    assert np.isnan(h5_row(openfield, "img0005.png")[("leftear", "x")])
    with LabelingServer(openfield, port=port, token=token):
        wait_saved(page)  # the tab retries on its own
    row = h5_row(openfield, "img0005.png")
    assert not np.isnan(row[("snout", "x")]) and not np.isnan(row[("leftear", "x")])
