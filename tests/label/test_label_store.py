"""Saving under concurrency: merges of different frames, conflicts on the same frame,
edits made outside the app, DeepLabCut-written files, and large folders."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from posekit.io.labels import H5_KEY, read_labels, write_labels
from posekit.label.layout import Layout, frame_rev, frame_status
from posekit.label.store import LabelStore
from posekit.label.validate import FrameEdit
from posekit.project import open_project
from posekit.project.labels import read_folder_labels

M4S1 = "/api/folders/m4s1"


def put(client, image: str, rev: str, **points: list[float]):
    body = {"base_rev": rev, "points": {"animal": points}}
    return client.put(f"{M4S1}/frames/{image}", json=body)


def get_rev(client, image: str) -> str:
    return client.get(f"{M4S1}/frames/{image}").json()["rev"]


def labels_of(root: Path):
    return read_labels(root / "labeled-data/m4s1/CollectedData_Pranav.h5")


def test_two_tabs_editing_different_frames_merge(openfield: Path, make_client) -> None:
    tab_a, tab_b = make_client(openfield), make_client(openfield)
    rev5, rev1 = get_rev(tab_a, "img0005.png"), get_rev(tab_b, "img0001.png")
    assert put(tab_a, "img0005.png", rev5, snout=[5, 5]).status_code == 200
    assert put(tab_b, "img0001.png", rev1, snout=[1, 1]).status_code == 200
    labels = labels_of(openfield)
    rows = {image.split("/")[-1]: i for i, image in enumerate(labels.images)}
    assert labels.points[rows["img0005.png"], 0, 0].tolist() == [5, 5]
    assert labels.points[rows["img0001.png"], 0, 0].tolist() == [1, 1]
    assert labels.points[rows["img0000.png"], 0, 0].tolist() == [21.521, 265.428]


def test_two_servers_on_one_project_merge_too(openfield: Path, make_client) -> None:
    # each client has its own app (own cache), as two `posekit label` processes would
    server_a, server_b = make_client(openfield), make_client(openfield)
    server_a.get(f"{M4S1}/frames/img0003.png")
    server_b.get(f"{M4S1}/frames/img0004.png")
    assert put(server_a, "img0003.png", get_rev(server_a, "img0003.png"),
               snout=[3, 3]).status_code == 200
    assert put(server_b, "img0004.png", get_rev(server_b, "img0004.png"),
               snout=[4, 4]).status_code == 200
    labels = labels_of(openfield)
    assert labels.points[3, 0, 0].tolist() == [3, 3]
    assert labels.points[4, 0, 0].tolist() == [4, 4]


def test_same_frame_edited_in_two_tabs_is_a_409(openfield: Path, make_client) -> None:
    tab_a, tab_b = make_client(openfield), make_client(openfield)
    rev = get_rev(tab_a, "img0005.png")
    assert get_rev(tab_b, "img0005.png") == rev
    assert put(tab_a, "img0005.png", rev, snout=[10, 10]).status_code == 200
    response = put(tab_b, "img0005.png", rev, snout=[20, 20])
    assert response.status_code == 409
    body = response.json()
    assert "changed elsewhere" in body["error"]
    assert body["current"]["points"] == {"animal": {"snout": [10.0, 10.0]}}
    assert labels_of(openfield).points[-1, 0, 0].tolist() == [10, 10]
    # the tab may then overwrite knowingly, basing its edit on the current revision
    again = put(tab_b, "img0005.png", body["current"]["rev"], snout=[20, 20])
    assert again.status_code == 200
    assert labels_of(openfield).points[-1, 0, 0].tolist() == [20, 20]


def test_stale_edit_that_changes_nothing_is_not_a_conflict(openfield: Path, make_client) -> None:
    tab_a, tab_b = make_client(openfield), make_client(openfield)
    rev = get_rev(tab_a, "img0005.png")
    put(tab_a, "img0005.png", rev, snout=[10, 10])
    assert put(tab_b, "img0005.png", rev, snout=[10, 10]).status_code == 200


def test_file_changed_by_another_program_is_reread(client, openfield: Path) -> None:
    rev = get_rev(client, "img0002.png")
    project = open_project(openfield)
    labels = read_folder_labels(project, "m4s1")
    labels.points[2, 0, 0] = [99, 98]
    write_labels(labels, openfield / "labeled-data/m4s1/CollectedData_Pranav.h5")
    data = client.get(f"{M4S1}/frames/img0002.png").json()
    assert data["points"]["animal"]["snout"] == [99.0, 98.0] and data["rev"] != rev
    assert put(client, "img0002.png", rev, snout=[1, 1]).status_code == 409


def test_concurrent_saves_of_many_frames_all_survive(openfield: Path, make_client) -> None:
    images = [f"img000{i}.png" for i in range(6)]
    clients = [make_client(openfield) for _ in images]
    revs = [get_rev(c, image) for c, image in zip(clients, images, strict=True)]
    results = []

    def save(i: int) -> None:
        results.append(put(clients[i], images[i], revs[i], tailbase=[i + 0.5, i + 0.25]))

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [200] * 6
    labels = labels_of(openfield)
    for i, image in enumerate(images):
        row = labels.images.index(f"labeled-data/m4s1/{image}")
        assert labels.points[row, 0, 3].tolist() == [i + 0.5, i + 0.25]


_SAVE_IN_PROCESS = """
import sys
import numpy as np
from posekit.label.store import LabelStore
from posekit.label.validate import FrameEdit
from posekit.project import open_project
root, image, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
store = LabelStore(open_project(root))
for _ in range(3):  # a few rounds, so that the writes interleave
    data = store.frame("m4s1", image)
    xy = np.full((store.layout.n_slots, 2), np.nan)
    xy[3] = [value, value]
    store.put_frame("m4s1", image, FrameEdit(data["rev"], xy, np.zeros(4, bool)))
    value += 1
"""


def test_two_processes_writing_one_folder_merge(openfield: Path) -> None:
    images = [f"img000{i}.png" for i in range(4)]
    processes = [subprocess.Popen([sys.executable, "-c", _SAVE_IN_PROCESS, str(openfield),
                                   image, str(10 * i)])
                 for i, image in enumerate(images)]
    codes = [process.wait(120) for process in processes]
    assert codes == [0] * 4
    labels = labels_of(openfield)
    for i, image in enumerate(images):
        row = labels.images.index(f"labeled-data/m4s1/{image}")
        assert labels.points[row, 0, 3].tolist() == [10 * i + 2] * 2
        assert np.isnan(labels.points[row, 0, 0]).all()


def test_deeplabcut_table_h5_with_string_index_opens_and_keeps_other_rows(
        openfield: Path, make_client) -> None:
    """A file as DeepLabCut writes it: table format, one path string per row, rows for
    images that are not in the folder (they must survive an edit)."""
    h5 = openfield / "labeled-data/m4s1/CollectedData_Pranav.h5"
    table = pd.read_hdf(h5, H5_KEY)
    table.index = ["/".join(key) for key in table.index]
    extra = table.iloc[[0]].copy()
    extra.index = ["labeled-data/m4s1/img0500.png"]
    table = pd.concat([table, extra])
    h5.unlink()
    h5.with_suffix(".csv").unlink()
    table.to_hdf(h5, key=H5_KEY, format="table", mode="w")
    client = make_client(openfield)
    data = client.get(f"{M4S1}/frames/img0003.png").json()
    assert data["points"]["animal"]["snout"] == [73.78699999999999, 374.57199999999995]
    assert put(client, "img0003.png", data["rev"], snout=[7, 7]).status_code == 200
    labels = labels_of(openfield)
    assert "labeled-data/m4s1/img0500.png" in labels.images
    assert labels.points[labels.images.index("labeled-data/m4s1/img0003.png"), 0, 0].tolist() \
        == [7, 7]
    assert h5.with_suffix(".csv").is_file()


def test_csv_only_folder_gets_an_h5_on_first_save(openfield: Path, make_client) -> None:
    (openfield / "labeled-data/m4s1/CollectedData_Pranav.h5").unlink()
    client = make_client(openfield)
    assert client.get(M4S1).json()["status"] == "ccccce"
    response = put(client, "img0005.png", get_rev(client, "img0005.png"), snout=[1, 2])
    assert response.status_code == 200
    assert len(labels_of(openfield)) == 6


def test_marks_file_records_not_visible_bodyparts(client, openfield: Path) -> None:
    body = {"base_rev": get_rev(client, "img0005.png"), "not_visible": {"animal": ["tailbase"]}}
    assert client.put(f"{M4S1}/frames/img0005.png", json=body).json()["status"] == "partial"
    marks = (openfield / "labeled-data/m4s1/.posekit-label-state.json").read_text()
    assert '"img0005.png": [["animal", "tailbase"]]' in marks
    # a frame holding only not-visible marks still gets a row (all NaN), as DeepLabCut does
    labels = labels_of(openfield)
    assert labels.images[-1] == "labeled-data/m4s1/img0005.png"
    assert np.isnan(labels.points[-1]).all()
    # placing the bodypart removes its mark, and the marks file goes when it is empty
    rev = get_rev(client, "img0005.png")
    put(client, "img0005.png", rev, tailbase=[3, 3])
    assert not (openfield / "labeled-data/m4s1/.posekit-label-state.json").exists()


def test_large_folder_summary_and_pages(openfield: Path, make_client) -> None:
    folder = openfield / "labeled-data" / "big"
    folder.mkdir()
    source = openfield / "labeled-data/m4s1/img0000.png"
    for i in range(10_000):
        os.link(source, folder / f"img{i:05d}.png")
    labels = read_folder_labels(open_project(openfield), "m4s1")
    labels.images = [f"labeled-data/big/img{i:05d}.png" for i in range(0, 50, 10)]
    write_labels(labels, folder / "CollectedData_Pranav.h5")
    client = make_client(openfield)
    summary = client.get("/api/folders/big").json()
    assert summary["n_frames"] == 10_000 and len(summary["status"]) == 10_000
    assert summary["status"][:11] == "ceeeeeeeeec"
    page = client.get("/api/folders/big/frames?offset=9990&limit=2000").json()
    assert [f["index"] for f in page["frames"]] == list(range(9990, 10_000))
    data = client.get("/api/folders/big/frames/img09999.png").json()
    assert data["index"] == 9999 and data["total"] == 10_000
    assert put_big(client, "img09999.png", data["rev"]).status_code == 200
    assert client.get("/api/folders/big").json()["status"][-1] == "p"


def put_big(client, image: str, rev: str):
    return client.put(f"/api/folders/big/frames/{image}",
                      json={"base_rev": rev, "points": {"animal": {"snout": [1, 1]}}})


# -- the store and layout directly --------------------------------------------------------------
def test_store_put_frame_and_rev_are_consistent(openfield: Path) -> None:
    store = LabelStore(open_project(openfield))
    layout = store.layout
    xy = np.full((layout.n_slots, 2), np.nan)
    xy[1] = [4.5, 6.25]
    hidden = np.zeros(layout.n_slots, bool)
    hidden[2] = True
    base = store.frame("m4s1", "img0005.png")["rev"]
    result = store.put_frame("m4s1", "img0005.png", FrameEdit(base, xy, hidden))
    assert result["rev"] == frame_rev(xy, hidden)
    assert result["points"] == {"animal": {"leftear": [4.5, 6.25]}}


def test_frame_status_counts_placed_and_hidden_slots() -> None:
    xy = np.full((3, 2, 2), np.nan)
    xy[1, 0] = [1, 1]
    xy[2, 0] = [1, 1]
    hidden = np.array([[False, False], [False, False], [False, True]])
    assert frame_status(xy, hidden).tolist() == [0, 1, 2]


def test_layout_slots_put_unique_bodyparts_under_single(madlc: Path) -> None:
    layout = Layout.from_config(open_project(madlc).config)
    assert layout.slots()[:3] == [("Animal1", "A"), ("Animal1", "B"), ("Animal1", "C")]
    assert layout.slots()[-2:] == [("single", "D"), ("single", "E")]
    assert layout.n_slots == 8


def test_rev_ignores_marks_on_placed_slots() -> None:
    xy = np.array([[1.0, 2.0], [np.nan, np.nan]])
    assert frame_rev(xy, np.array([True, False])) == frame_rev(xy, np.array([False, False]))
    assert frame_rev(xy, np.array([False, True])) != frame_rev(xy, np.array([False, False]))
