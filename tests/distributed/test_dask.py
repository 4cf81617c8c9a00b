"""Many videos on a Dask LocalCluster: one task per video, a killed worker, re-runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.distributed.pool import analyze_many
from posekit.errors import VideoError
from posekit.io.predictions import read_predictions
from posekit.predict.analyze import metadata_path

distributed = pytest.importorskip("distributed")


def local_cluster() -> distributed.LocalCluster:
    """Two single-threaded worker processes (a nanny restarts a worker that dies)."""
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    dashboard_address=None, silence_logs=50)


@pytest.fixture
def cluster(fakes):
    with local_cluster() as local:
        yield local


def test_videos_run_as_tasks_and_survive_a_killed_worker(fakes, videos, cluster,
                                                         tmp_path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = fakes.FakeSpec(die_on="20", marker_dir=str(markers))
    paths = analyze_many(spec, videos, scheduler=cluster.scheduler_address)
    assert len(list(markers.glob("died-*"))) == 1  # the worker running v20 died once ...
    for path, x in zip(paths, (8, 20, 32), strict=True):  # ... and the task was re-run
        data = read_predictions(path).data[:, 0, 0]
        np.testing.assert_allclose(data[:, :2], [[x + 1.5, 21.5]] * 6)
        info = json.loads(metadata_path(path).read_text())
        assert info["complete"] and info["threads"] >= 1
    stamps = [p.stat().st_mtime_ns for p in paths]
    with distributed.Client(cluster) as client:  # a connected client works too
        again = analyze_many(spec, videos, scheduler=client)
    assert again == paths and [p.stat().st_mtime_ns for p in again] == stamps  # skipped


def test_a_task_that_keeps_killing_workers_is_reported(fakes, videos, tmp_path) -> None:
    import dask

    markers = tmp_path / "markers"
    markers.mkdir()
    spec = fakes.FakeSpec(die_on="32", marker_dir=str(markers), always=True)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), local_cluster() as cluster:
        with pytest.raises(VideoError, match=r"1 of 3 videos .*v32.avi: KilledWorker"):
            analyze_many(spec, videos, scheduler=cluster.scheduler_address)
    assert len(list(markers.glob("died-*"))) == 2  # first run and one retry
    assert videos[0].with_name("v8FakeDistributedshuffle1.h5").is_file()
    assert not videos[2].with_name("v32FakeDistributedshuffle1.h5").exists()


def test_unreachable_scheduler_is_a_clear_error(fakes, videos, monkeypatch) -> None:
    from posekit.distributed import dask_runner

    monkeypatch.setattr(dask_runner, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(VideoError, match="Cannot reach the Dask scheduler"):
        analyze_many(fakes.FakeSpec(), videos, scheduler="tcp://127.0.0.1:9")
