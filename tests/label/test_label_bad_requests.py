"""Hostile and malformed requests: each gets a 4xx JSON answer and writes nothing."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from posekit.errors import VideoError

FRAME = "/api/folders/m4s1/frames/img0005.png"


def tree(root: Path) -> dict[str, int]:
    """Every file under ``root`` with its modification time."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.fixture
def guarded(openfield: Path):
    """Check after the test that nothing under the project's parent folder changed."""
    parent = openfield.parent
    before = tree(parent)
    yield
    assert tree(parent) == before


def assert_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    for word in words:
        assert word in message, message


def rev(client) -> str:
    return client.get(FRAME).json()["rev"]


# -- access token -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/label?folder=m4s1", "/static/label-main.js",
                                  "/api/project", "/api/folders/m4s1",
                                  "/api/folders/m4s1/images/img0000.png", FRAME, "/nothing"])
def test_missing_token_is_401_everywhere(openfield: Path, make_client, path: str) -> None:
    client = make_client(openfield)
    client.headers.pop("X-Posekit-Token")
    assert_error(client.get(path), 401, "token")


@pytest.mark.parametrize("headers", [
    {"X-Posekit-Token": "wrong"}, {"X-Posekit-Token": ""}, {"Authorization": "Bearer wrong"},
    {"Authorization": "Basic dGVzdA=="}, {"Cookie": "posekit_000000000000=wrong"},
])
def test_wrong_token_is_401(openfield: Path, make_client, headers: dict, guarded) -> None:
    client = make_client(openfield)
    client.headers.pop("X-Posekit-Token")
    assert_error(client.put(FRAME, json={"base_rev": "x"}, headers=headers), 401)
    assert_error(client.get("/api/project?token=wrong", headers=headers), 401)


def test_non_ascii_token_is_401_not_500(openfield: Path, make_client) -> None:
    client = make_client(openfield)
    response = client.get("/api/project", headers={"X-Posekit-Token": "t\xe9st".encode("latin-1")})
    assert_error(response, 401)


def test_token_in_url_sets_a_cookie_and_is_dropped_from_the_url(openfield: Path, make_client,
                                                                token: str) -> None:
    client = make_client(openfield)
    client.headers.pop("X-Posekit-Token")
    response = client.get(f"/label?folder=m4s1&token={token}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/label?folder=m4s1"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/api/project").status_code == 200  # the client keeps the cookie


def test_cookie_of_another_server_is_refused(openfield: Path, make_client, token: str) -> None:
    client = make_client(openfield)
    client.headers.pop("X-Posekit-Token")
    response = client.get("/api/project", headers={"Cookie": f"posekit_abcdef012345={token}"})
    assert_error(response, 401)


# -- malformed bodies ---------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"{", b"[]", b"null", b"42", b'"text"', b"\xff\xfe{}",
                                  b'{"base_rev": NaN}', b'{"base_rev": Infinity}',
                                  b"[" * 100_000 + b"]" * 100_000])
def test_malformed_json_is_400(client, body: bytes, guarded) -> None:
    assert_error(client.put(FRAME, content=body), 400)


def test_huge_body_is_413(client, guarded) -> None:
    body = b'{"base_rev": "' + b"x" * 2_000_000 + b'"}'
    assert_error(client.put(FRAME, content=body), 413)


@pytest.mark.parametrize("body, words", [
    ({}, ["base_rev"]),
    ({"base_rev": 3}, ["base_rev"]),
    ({"base_rev": "x" * 100}, ["base_rev"]),
    ({"base_rev": "r", "extra": 1}, ["Unknown field", "extra"]),
    ({"base_rev": "r", "points": []}, ["points"]),
    ({"base_rev": "r", "points": {"animal": []}}, ["animal"]),
    ({"base_rev": "r", "points": {"mouse": {"snout": [1, 1]}}}, ["Unknown individual", "mouse"]),
    ({"base_rev": "r", "points": {"animal": {"nose": [1, 1]}}}, ["Unknown bodypart", "nose"]),
    ({"base_rev": "r", "points": {"single": {"snout": [1, 1]}}}, ["Unknown individual"]),
    ({"base_rev": "r", "not_visible": {"animal": ["tail"]}}, ["Unknown bodypart", "tail"]),
    ({"base_rev": "r", "not_visible": {"animal": [1]}}, ["Unknown bodypart"]),
    ({"base_rev": "r", "not_visible": {"animal": "snout"}}, ["list"]),
    ({"base_rev": "r", "points": {"animal": {"snout": [1, 1]}},
      "not_visible": {"animal": ["snout"]}}, ["both"]),
])
def test_bad_frame_fields_are_422(client, body: dict, words: list[str], guarded) -> None:
    assert_error(client.put(FRAME, json=body), 422, *words)


@pytest.mark.parametrize("point", [
    [-0.6, 10], [639.6, 10], [10, -1], [10, 479.51], [1e300, 1], ["1", 2], [True, 2],
    [None, 2], [1], [1, 2, 3], {"x": 1, "y": 2}, "1,2", [[1], 2],
])
def test_bad_coordinates_are_422(client, point, guarded) -> None:
    body = {"base_rev": rev(client), "points": {"animal": {"snout": point}}}
    assert_error(client.put(FRAME, json=body), 422, "snout")


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", b"1" + b"0" * 400])
def test_overflowing_numbers_are_422(client, literal: bytes, guarded) -> None:
    body = b'{"base_rev": "%s", "points": {"animal": {"snout": [%s, 1]}}}' % (
        rev(client).encode(), literal)
    assert_error(client.put(FRAME, content=body), 422, "snout")


def test_coordinates_on_the_image_edge_are_accepted(client) -> None:
    body = {"base_rev": rev(client), "points": {"animal": {"snout": [-0.5, 479.5],
                                                           "leftear": [639.5, -0.5]}}}
    assert client.put(FRAME, json=body).status_code == 200


def test_unique_bodypart_under_an_individual_is_422(ma_client) -> None:
    url = "/api/folders/video/frames/img002.png"
    body = {"base_rev": ma_client.get(url).json()["rev"], "points": {"Animal1": {"D": [1, 1]}}}
    assert_error(ma_client.put(url, json=body), 422, "Unknown bodypart", "D")
    body = {"base_rev": "r", "points": {"single": {"A": [1, 1]}}}
    assert_error(ma_client.put(url, json=body), 422, "Unknown bodypart")
    body = {"base_rev": "r", "points": {"Animal1": {"A": [30, 1]}}}  # the image is 30x30
    assert_error(ma_client.put(url, json=body), 422, "outside")


@pytest.mark.parametrize("body, status", [
    ({}, 422), ({"base_rev": "r", "min_likelihood": "high"}, 422),
    ({"base_rev": "r", "min_likelihood": float("nan")}, 400), ({"base_rev": "r", "x": 1}, 422),
])
def test_bad_accept_requests(client, body: dict, status: int, guarded) -> None:
    response = client.post(FRAME + "/accept", content=__import__("json").dumps(body))
    assert_error(response, status)


@pytest.mark.parametrize("query", ["offset=-1", "limit=0", "limit=abc", "limit=100000",
                                   "offset=1.5", "offset=%C2%B2", "offset=" + "9" * 30])
def test_bad_paging_is_400(client, query: str) -> None:
    assert_error(client.get(f"/api/folders/m4s1/frames?{query}"), 400)


# -- paths --------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, status", [
    ("/api/folders/%2E%2E", 400),
    ("/api/folders/%2E%2E/frames/img0000.png", 400),
    ("/api/folders/..%5Cvideos/frames/img0000.png", 400),
    ("/api/folders/C:%5Cetc/frames/img0000.png", 400),
    ("/api/folders/m4s1%00/frames/img0000.png", 400),
    ("/api/folders/.hidden", 400),
    ("/api/folders/" + "a" * 300, 400),
    ("/api/folders/nope", 404),
    ("/api/folders/m4s1/frames/%2E%2E", 400),
    ("/api/folders/m4s1/frames/..%5C..%5Cconfig.yaml", 400),
    ("/api/folders/m4s1/frames/%2E%2E%2F%2E%2E%2Fconfig.yaml", 404),
    ("/api/folders/m4s1/images/..%5Cimg0000.png", 400),
    ("/api/folders/m4s1/images/CollectedData_Pranav.h5", 400),
    ("/api/folders/m4s1/images/.posekit-label-state.json", 400),
    ("/api/folders/m4s1/images/img9999.png", 404),
    ("/api/folders/m4s1/frames/img9999.png", 404),
    ("/api/folders//etc/frames/passwd.png", 404),
    ("/static/..%2Fapp.py", 404),
    ("/static/%2E%2E", 404),
])
def test_paths_leaving_the_project_are_refused(client, url: str, status: int) -> None:
    assert_error(client.get(url), status)


@pytest.mark.parametrize("url", [
    "/api/folders/%2E%2E/frames/config.png", "/api/folders/m4s1/frames/%2E%2E",
    "/api/folders/nope/frames/img0000.png", "/api/folders/m4s1/frames/img9999.png",
    "/api/folders/m4s1/frames/..%5Cimg0000.png",
])
def test_writes_to_bad_paths_are_refused(client, url: str, guarded) -> None:
    response = client.put(url, json={"base_rev": "r", "points": {"animal": {"snout": [1, 1]}}})
    assert 400 <= response.status_code < 500
    assert not (client.app.state.labeling.project.labeled_data_dir / "nope").exists()


def test_symlinks_out_of_the_project_are_refused(client, openfield: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(
        (openfield / "labeled-data/m4s1/img0000.png").read_bytes())
    os.symlink(outside, openfield / "labeled-data" / "escape")
    os.symlink(outside / "secret.png", openfield / "labeled-data/m4s1/img0100.png")
    assert_error(client.get("/api/folders/escape"), 403, "outside the project")
    assert_error(client.get("/api/folders/escape/images/secret.png"), 403)
    assert_error(client.get("/api/folders/m4s1/images/img0100.png"), 403, "outside")
    assert_error(client.put("/api/folders/escape/frames/secret.png",
                            json={"base_rev": "r"}), 403)
    names = [f["name"] for f in client.get("/api/folders/m4s1/frames").json()["frames"]]
    assert "img0100.png" not in names
    assert sorted(p.name for p in outside.iterdir()) == ["secret.png"]


def test_symlink_inside_the_project_is_served(client, openfield: Path) -> None:
    os.symlink(openfield / "labeled-data/m4s1/img0000.png",
               openfield / "labeled-data/m4s1/img0006.png")
    assert client.get("/api/folders/m4s1/images/img0006.png").status_code == 200


# -- other methods and routes ---------------------------------------------------------------------
def test_unknown_route_and_method_are_json(client) -> None:
    assert_error(client.get("/api/nothing"), 404)
    assert_error(client.delete(FRAME), 405)
    assert_error(client.post("/api/project"), 405)


# -- broken files on disk -----------------------------------------------------------------------
def test_corrupt_label_file_is_409_with_a_message(client, openfield: Path) -> None:
    (openfield / "labeled-data/m4s1/CollectedData_Pranav.h5").write_bytes(b"not hdf5")
    assert_error(client.get(FRAME), 409, "cannot be read")
    assert_error(client.put(FRAME, json={"base_rev": "r"}), 409)
    assert (openfield / "labeled-data/m4s1/CollectedData_Pranav.h5").read_bytes() == b"not hdf5"
    folders = client.get("/api/project").json()["folders"]
    assert "cannot be read" in folders[0]["error"]


def test_corrupt_predictions_are_409(client, openfield: Path) -> None:
    (openfield / "labeled-data/m4s1/machinelabels-iter0.h5").write_bytes(b"junk")
    assert_error(client.get(FRAME), 409, "machinelabels-iter0.h5")


def test_corrupt_marks_file_is_set_aside(client, openfield: Path) -> None:
    marks = openfield / "labeled-data/m4s1/.posekit-label-state.json"
    marks.write_text("{broken", encoding="utf-8")
    assert client.get(FRAME).status_code == 200
    assert (marks.parent / ".posekit-label-state.json.bad").read_text() == "{broken"


def test_unreadable_image_is_409(client, openfield: Path) -> None:
    (openfield / "labeled-data/m4s1/img0005.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert_error(client.get(FRAME), 409, "cannot be read")


# -- extraction ---------------------------------------------------------------------------------
@pytest.fixture
def failing_extract(monkeypatch: pytest.MonkeyPatch) -> None:
    def extract_frames(project, **options):
        raise VideoError("video m4s1.mp4 cannot be decoded")

    module = types.ModuleType("posekit.frames.extract")
    module.extract_frames = extract_frames
    monkeypatch.setitem(sys.modules, "posekit.frames.extract", module)


@pytest.mark.parametrize("body, words", [
    ({"algo": "magic"}, ["algo"]), ({"n": 0}, ["'n'"]), ({"n": True}, ["'n'"]),
    ({"n": "5"}, ["'n'"]), ({"n": 10**9}, ["'n'"]), ({"videos": "m4s1.mp4"}, ["videos"]),
    ({"videos": []}, ["videos"]), ({"videos": ["../../etc/passwd"]}, ["Unknown video"]),
    ({"videos": ["/etc/passwd"]}, ["Unknown video"]), ({"speed": 2}, ["Unknown field"]),
])
def test_bad_extraction_requests_are_422(client, body: dict, words: list[str],
                                         failing_extract) -> None:
    assert_error(client.post("/api/extract", json=body), 422, *words)


def test_failed_extraction_is_422_with_the_reason(client, failing_extract) -> None:
    assert_error(client.post("/api/extract", json={}), 422, "cannot be decoded")


def test_second_extraction_while_one_runs_is_409(client, failing_extract) -> None:
    lock = client.app.state.labeling.extract_lock
    with lock:
        assert_error(client.post("/api/extract", json={}), 409, "already")
