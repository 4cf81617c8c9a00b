"""The labeling app's HTTP API, endpoint by endpoint, on copies of the fixture projects."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.io.labels import H5_KEY, read_labels

M4S1 = "/api/folders/m4s1"


def frame(client, image: str, folder: str = "m4s1") -> dict:
    response = client.get(f"/api/folders/{folder}/frames/{image}")
    assert response.status_code == 200, response.text
    return response.json()


def h5_row(root: Path, image: str, folder: str = "m4s1", scorer: str = "Pranav") -> pd.Series:
    table = pd.read_hdf(root / f"labeled-data/{folder}/CollectedData_{scorer}.h5", H5_KEY)
    return table.loc[("labeled-data", folder, image)]


def test_project_lists_config_videos_and_folder_counts(client) -> None:
    info = client.get("/api/project").json()
    assert info["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"]
    assert info["individuals"] == ["animal"] and not info["multi_animal"]
    assert ["snout", "leftear"] in info["edges"]
    assert info["videos"] == [{"name": "m4s1.mp4", "key": "videos/m4s1.mp4", "exists": False,
                               "folder": "m4s1"}]
    assert info["folders"] == [{"name": "m4s1", "n_frames": 6, "machine_file": None,
                                "counts": {"empty": 1, "partial": 0, "complete": 5,
                                           "predicted": 0}}]


def test_folder_summary_has_one_status_letter_per_frame_and_no_points(client) -> None:
    summary = client.get(M4S1).json()
    assert summary["status"] == "ccccce"
    assert summary["n_frames"] == 6
    assert "points" not in summary


def test_folder_without_label_file_can_be_labeled(client, openfield: Path) -> None:
    folder = openfield / "labeled-data" / "fresh"
    folder.mkdir()
    (folder / "img0000.png").write_bytes((openfield / "labeled-data/m4s1/img0000.png").read_bytes())
    assert client.get("/api/folders/fresh").json()["status"] == "e"
    data = frame(client, "img0000.png", "fresh")
    assert data["points"] == {} and data["status"] == "empty"
    body = {"base_rev": data["rev"], "points": {"animal": {"tailbase": [5, 6]}}}
    assert client.put("/api/folders/fresh/frames/img0000.png", json=body).status_code == 200
    labels = read_labels(folder / "CollectedData_Pranav.h5")
    assert labels.images == ["labeled-data/fresh/img0000.png"]
    assert labels.points[0, 0, 3].tolist() == [5, 6]
    assert client.get("/api/project").json()["folders"][0]["name"] == "fresh"


def test_empty_folder_has_no_frames(client, openfield: Path) -> None:
    (openfield / "labeled-data" / "empty").mkdir()
    assert client.get("/api/folders/empty").json() == {
        "folder": "empty", "n_frames": 0, "status": "", "machine_file": None,
        "version": client.get("/api/folders/empty").json()["version"],
        "counts": {"empty": 0, "partial": 0, "complete": 0, "predicted": 0}}
    assert client.get("/api/folders/empty/frames").json()["frames"] == []


def test_frames_are_paged(client) -> None:
    page = client.get(f"{M4S1}/frames?offset=2&limit=3").json()
    assert page["total"] == 6
    assert [f["name"] for f in page["frames"]] == ["img0002.png", "img0003.png", "img0004.png"]
    assert [f["index"] for f in page["frames"]] == [2, 3, 4]
    assert client.get(f"{M4S1}/frames?offset=6").json()["frames"] == []


def test_frame_holds_the_labels_of_the_dlc_file(client, openfield: Path) -> None:
    data = frame(client, "img0000.png")
    labels = read_labels(openfield / "labeled-data/m4s1/CollectedData_Pranav.h5")
    assert data["points"]["animal"]["snout"] == list(labels.points[0, 0, 0])
    assert (data["width"], data["height"], data["index"], data["total"]) == (640, 480, 0, 6)
    assert data["status"] == "complete" and data["machine"] is None
    assert frame(client, "img0005.png")["points"] == {}


def test_put_writes_h5_and_csv_and_returns_the_new_revision(client,
                                                            openfield: Path) -> None:
    before = frame(client, "img0005.png")
    body = {"base_rev": before["rev"], "points": {"animal": {"snout": [100.25, 200.5]}},
            "not_visible": {"animal": ["leftear"]}}
    response = client.put(f"{M4S1}/frames/img0005.png", json=body)
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["rev"] != before["rev"] and after["status"] == "partial"
    assert after["not_visible"] == {"animal": ["leftear"]}
    row = h5_row(openfield, "img0005.png")
    assert row[("Pranav", "snout", "x")] == 100.25 and row[("Pranav", "snout", "y")] == 200.5
    assert np.isnan(row[("Pranav", "leftear", "x")])
    csv = read_labels(openfield / "labeled-data/m4s1/CollectedData_Pranav.csv")
    assert csv.images[-1] == "labeled-data/m4s1/img0005.png"
    assert csv.points[-1, 0, 0].tolist() == [100.25, 200.5]
    assert frame(client, "img0005.png") == after
    assert client.get(M4S1).json()["status"] == "cccccp"


def test_marking_every_bodypart_makes_the_frame_complete(client) -> None:
    rev = frame(client, "img0005.png")["rev"]
    body = {"base_rev": rev, "points": {"animal": {"snout": [1, 2], "tailbase": [3, 4]}},
            "not_visible": {"animal": ["leftear", "rightear"]}}
    assert client.put(f"{M4S1}/frames/img0005.png", json=body).json()["status"] == "complete"
    assert client.get(M4S1).json()["counts"]["complete"] == 6


def test_emptying_a_frame_removes_its_row(client, openfield: Path) -> None:
    rev = frame(client, "img0002.png")["rev"]
    response = client.put(f"{M4S1}/frames/img0002.png", json={"base_rev": rev})
    assert response.json()["status"] == "empty"
    labels = read_labels(openfield / "labeled-data/m4s1/CollectedData_Pranav.h5")
    assert "labeled-data/m4s1/img0002.png" not in labels.images and len(labels) == 4


def test_unchanged_put_does_not_rewrite_the_file(client, openfield: Path) -> None:
    data = frame(client, "img0001.png")
    h5 = openfield / "labeled-data/m4s1/CollectedData_Pranav.h5"
    stamp = h5.stat().st_mtime_ns
    body = {"base_rev": data["rev"], "points": data["points"]}
    assert client.put(f"{M4S1}/frames/img0001.png", json=body).json()["rev"] == data["rev"]
    assert h5.stat().st_mtime_ns == stamp


def test_image_is_served_with_its_type(client, openfield: Path) -> None:
    response = client.get(f"{M4S1}/images/img0003.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == (openfield / "labeled-data/m4s1/img0003.png").read_bytes()


def test_pages_and_static_files_are_served(client) -> None:
    assert "overview.js" in client.get("/").text
    assert "label-main.js" in client.get("/label?folder=m4s1").text
    script = client.get("/static/label-main.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/nope.js").status_code == 404


def test_every_static_file_is_under_600_lines() -> None:
    from posekit.label.app import STATIC_DIR

    for path in STATIC_DIR.iterdir():
        assert len(path.read_text(encoding="utf-8").splitlines()) < 600, path.name


def test_responses_carry_security_headers(client) -> None:
    headers = client.get("/api/project").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


# -- refinement ---------------------------------------------------------------------------------
@pytest.fixture
def predictions(openfield: Path, machine_writer) -> np.ndarray:
    values = np.zeros((2, 4, 3))
    values[0] = [[50, 60, 0.9], [70, 80, 0.2], [np.nan, np.nan, 0.0], [700, 90, 0.95]]
    values[1] = [[10, 11, 0.5], [12, 13, 0.5], [14, 15, 0.5], [16, 17, 0.5]]
    machine_writer(openfield / "labeled-data/m4s1", ["img0005.png", "img0001.png"], values,
                   bodyparts=["snout", "leftear", "rightear", "tailbase"])
    return values


def test_predictions_are_shown_with_likelihood(client, predictions: np.ndarray) -> None:
    data = frame(client, "img0005.png")
    assert data["machine"]["file"] == "machinelabels-iter0.h5"
    assert data["machine"]["points"]["animal"]["snout"] == [50.0, 60.0, 0.9]
    assert "rightear" not in data["machine"]["points"]["animal"]
    summary = client.get(M4S1).json()
    assert summary["status"] == "cccccm" and summary["machine_file"] == "machinelabels-iter0.h5"


def test_newest_iteration_of_predictions_is_used(client, openfield: Path, predictions,
                                                 machine_writer) -> None:
    values = predictions.copy()
    values[0, 0, :2] = [5, 6]
    machine_writer(openfield / "labeled-data/m4s1", ["img0005.png", "img0001.png"], values,
                   bodyparts=["snout", "leftear", "rightear", "tailbase"], iteration=2)
    assert frame(client, "img0005.png")["machine"]["points"]["animal"]["snout"][:2] == [5, 6]


def test_accept_turns_predictions_into_labels(client, openfield: Path, predictions) -> None:
    rev = frame(client, "img0005.png")["rev"]
    body = {"base_rev": rev, "points": {"animal": {"snout": [1.0, 2.0]}},
            "not_visible": {"animal": ["leftear"]}}
    rev = client.put(f"{M4S1}/frames/img0005.png", json=body).json()["rev"]
    response = client.post(f"{M4S1}/frames/img0005.png/accept", json={"base_rev": rev})
    assert response.status_code == 200, response.text
    points = response.json()["points"]["animal"]
    # the hand label and the not-visible mark win; the prediction off the image is clipped
    assert points == {"snout": [1.0, 2.0], "tailbase": [639.5, 90.0]}
    row = h5_row(openfield, "img0005.png")
    assert row[("Pranav", "tailbase", "x")] == 639.5
    assert np.isnan(row[("Pranav", "leftear", "x")])


def test_accept_respects_min_likelihood(client, predictions) -> None:
    rev = frame(client, "img0005.png")["rev"]
    response = client.post(f"{M4S1}/frames/img0005.png/accept",
                           json={"base_rev": rev, "min_likelihood": 0.5})
    assert sorted(response.json()["points"]["animal"]) == ["snout", "tailbase"]


def test_accept_without_predictions_is_404(client) -> None:
    rev = frame(client, "img0005.png")["rev"]
    response = client.post(f"{M4S1}/frames/img0005.png/accept", json={"base_rev": rev})
    assert response.status_code == 404 and "no machine predictions" in response.json()["error"]


# -- multi-animal -------------------------------------------------------------------------------
def test_multi_animal_frame_from_deeplabcut_csv(ma_client) -> None:
    info = ma_client.get("/api/project").json()
    assert info["individuals"] == ["Animal1", "Animal2"] and info["unique_bodyparts"] == ["D", "E"]
    data = frame(ma_client, "img001.png", "video")
    assert data["points"]["Animal1"] == {"A": [12.0, 13.0], "C": [15.0, 16.0]}
    assert data["points"]["single"] == {"D": [22.0, 23.0], "E": [24.0, 25.0]}
    assert ma_client.get("/api/folders/video").json()["status"] == "ppep"


def test_multi_animal_edit_writes_h5_next_to_the_csv(ma_client, madlc: Path) -> None:
    data = frame(ma_client, "img002.png", "video")
    body = {"base_rev": data["rev"],
            "points": {"Animal2": {"B": [3.5, 4.5]}, "single": {"E": [1, 1]}},
            "not_visible": {"Animal1": ["A", "B", "C"]}}
    response = ma_client.put("/api/folders/video/frames/img002.png", json=body)
    assert response.status_code == 200, response.text
    h5 = madlc / "labeled-data/video/CollectedData_LM.h5"
    table = pd.read_hdf(h5, H5_KEY)
    assert list(table.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    row = table.loc[("labeled-data", "video", "img002.png")]
    assert row[("Scorer", "Animal2", "B", "x")] == 3.5
    assert row[("Scorer", "single", "E", "y")] == 1.0
    # the rows DeepLabCut wrote are unchanged
    old = table.loc[("labeled-data", "video", "img001.png")]
    assert old[("Scorer", "Animal1", "A", "x")] == 12.0


def test_multi_animal_accepts_predictions(ma_client, madlc: Path, machine_writer) -> None:
    values = np.full((1, 2, 3, 3), np.nan)
    values[0, 1, 2] = [7, 8, 0.7]
    machine_writer(madlc / "labeled-data/video", ["img002.png"], values,
                   bodyparts=["A", "B", "C"], individuals=["Animal1", "Animal2"])
    data = frame(ma_client, "img002.png", "video")
    assert data["machine"]["points"] == {"Animal2": {"C": [7.0, 8.0, 0.7]}}
    response = ma_client.post("/api/folders/video/frames/img002.png/accept",
                              json={"base_rev": data["rev"]})
    assert response.json()["points"] == {"Animal2": {"C": [7.0, 8.0]}}


# -- extraction ---------------------------------------------------------------------------------
@pytest.fixture
def fake_extract(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    calls: list[dict] = []

    def extract_frames(project, *, algo="kmeans", n=None, videos=None):
        calls.append({"algo": algo, "n": n, "videos": videos})
        return {"m4s1": [Path("a.png"), Path("b.png")]}

    module = types.ModuleType("posekit.frames.extract")
    module.extract_frames = extract_frames
    monkeypatch.setitem(sys.modules, "posekit.frames.extract", module)
    return calls


def test_extract_calls_extract_frames(client, fake_extract: list[dict]) -> None:
    response = client.post("/api/extract", json={"algo": "uniform", "n": 5})
    assert response.status_code == 200
    assert response.json() == {"extracted": {"m4s1": 2}}
    assert fake_extract == [{"algo": "uniform", "n": 5, "videos": None}]


def test_extract_names_videos_of_the_project(openfield: Path, fake_extract: list[dict],
                                             make_client) -> None:
    (openfield / "videos").mkdir(exist_ok=True)  # empty folders are not kept by git
    (openfield / "videos" / "m4s1.mp4").write_bytes(b"not really a video")
    client = make_client(openfield)
    assert client.post("/api/extract", json={"videos": ["m4s1.mp4"]}).status_code == 200
    assert fake_extract[0]["videos"] == [openfield / "videos" / "m4s1.mp4"]


def test_token_can_come_as_bearer_header(openfield: Path, make_client, token: str) -> None:
    client = make_client(openfield)
    response = client.get("/api/project", headers={"X-Posekit-Token": "",
                                                   "Authorization": f"Bearer {token}"})
    assert response.status_code == 200
