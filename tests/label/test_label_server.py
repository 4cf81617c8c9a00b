"""The real server: uvicorn on a free port, the token, Ctrl-C, and a kill mid-session."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pandas as pd
import pytest

from posekit.io.labels import H5_KEY
from posekit.label.server import LabelingServer

SERVE = textwrap.dedent("""
    import logging, sys
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from posekit.label import serve_labeling
    serve_labeling(sys.argv[1], on_ready=lambda url: print(url, flush=True))
""")


def test_server_on_a_free_port_needs_the_token(openfield: Path) -> None:
    with LabelingServer(openfield) as server:
        assert server.url.startswith(f"http://127.0.0.1:{server.port}/?token=")
        assert len(server.token) >= 40
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/api/project").status_code == 401
        with httpx.Client(base_url=base) as browser:
            first = browser.get(server.url, follow_redirects=False)
            assert first.status_code == 303 and first.headers["location"] == "/"
            assert browser.get("/api/project").status_code == 200  # the cookie now
            assert browser.get("/api/folders/m4s1/images/img0000.png").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/api/project", timeout=2)


def test_server_binds_localhost_only_by_default(openfield: Path) -> None:
    with LabelingServer(openfield, token="abc") as server:
        assert server._socket.getsockname()[0] == "127.0.0.1"
        assert server.url.endswith("/?token=abc")


def test_port_in_use_is_a_clear_error(openfield: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match="another --port"):
            LabelingServer(openfield, port=port).start()


def test_bad_port_is_refused(openfield: Path) -> None:
    with pytest.raises(ValueError, match="port"):
        LabelingServer(openfield, port=70000)


def _start(openfield: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(openfield)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), process.stderr.read()
    return process, url


def test_ctrl_c_stops_the_server_cleanly(openfield: Path) -> None:
    process, url = _start(openfield)
    try:
        token = url.split("token=")[1]
        base = url.split("/?")[0]
        assert httpx.get(f"{base}/api/project", headers={"X-Posekit-Token": token}).status_code \
            == 200
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "labeling app stopped" in err and "Traceback" not in err


def test_killed_server_keeps_every_saved_edit(openfield: Path) -> None:
    process, url = _start(openfield)
    try:
        token = url.split("token=")[1]
        base = url.split("/?")[0]
        with httpx.Client(base_url=base, headers={"X-Posekit-Token": token}) as client:
            for image, x in [("img0005.png", 11.5), ("img0001.png", 22.5)]:
                rev = client.get(f"/api/folders/m4s1/frames/{image}").json()["rev"]
                body = {"base_rev": rev, "points": {"animal": {"snout": [x, 7.0]}}}
                assert client.put(f"/api/folders/m4s1/frames/{image}", json=body).status_code \
                    == 200
        process.kill()  # SIGKILL: no chance to clean up
        process.wait(10)
    finally:
        process.kill()
    folder = openfield / "labeled-data/m4s1"
    table = pd.read_hdf(folder / "CollectedData_Pranav.h5", H5_KEY)
    assert table.loc[("labeled-data", "m4s1", "img0005.png"), ("Pranav", "snout", "x")] == 11.5
    assert table.loc[("labeled-data", "m4s1", "img0001.png"), ("Pranav", "snout", "x")] == 22.5
    assert "img0005.png,11.5,7.0" in (folder / "CollectedData_Pranav.csv").read_text()
    assert not [p.name for p in folder.iterdir() if ".tmp" in p.name]
