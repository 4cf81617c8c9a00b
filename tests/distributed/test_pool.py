"""Many videos on a local process pool: results, skipping, dead workers, failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from posekit.distributed.pool import analyze_many, default_workers
from posekit.distributed.specs import available_cores
from posekit.errors import MissingFileError, VideoError
from posekit.io.predictions import read_predictions
from posekit.predict.analyze import AnalyzeOptions, metadata_path


def check_outputs(paths: list[Path], videos: list[Path]) -> None:
    assert [p.name for p in paths] == [f"{v.stem}FakeDistributedshuffle1.h5" for v in videos]
    for path, x in zip(paths, (8, 20, 32), strict=True):
        data = read_predictions(path).data[:, 0, 0]
        assert data.shape == (6, 3)
        np.testing.assert_allclose(data[:, :2], [[x + 1.5, 21.5]] * 6)
        assert json.loads(metadata_path(path).read_text())["complete"] is True


def test_default_pool_size_follows_the_machine() -> None:
    assert default_workers(10, cores=2) == 1
    assert default_workers(10, cores=16) == 8
    assert default_workers(3, cores=16) == 3
    assert default_workers(10, cores=16, gpu=True) == 1


def test_one_worker_analyzes_in_this_process(fakes, videos) -> None:
    paths = analyze_many(fakes.FakeSpec(), videos, workers=1)
    check_outputs(paths, videos)


def test_a_linked_video_is_analyzed_beside_the_link(fakes, videos, tmp_path) -> None:
    """A project's videos/ folder holds links to the originals (DeepLabCut's default): the
    analysis belongs beside the link, and the originals' folder stays untouched."""
    project_videos = tmp_path / "project" / "videos"
    project_videos.mkdir(parents=True)
    links = []
    for video in videos:
        (project_videos / video.name).symlink_to(video)
        links.append(project_videos / video.name)
    before = sorted(p.name for p in videos[0].parent.iterdir())
    paths = analyze_many(fakes.FakeSpec(), links, workers=1)
    assert [p.parent for p in paths] == [project_videos] * len(videos)
    assert sorted(p.name for p in videos[0].parent.iterdir()) == before


def test_pool_of_two_processes_shares_the_cores(fakes, videos) -> None:
    paths = analyze_many(fakes.FakeSpec(), videos, workers=2)
    check_outputs(paths, videos)
    meta = [json.loads(metadata_path(p).read_text()) for p in paths]
    assert {m["threads"] for m in meta} == {max(1, available_cores() // 2)}  # cores / workers
    assert os.getpid() not in {m["pid"] for m in meta}


def test_rerun_skips_finished_videos(fakes, videos) -> None:
    first = analyze_many(fakes.FakeSpec(), videos, workers=1)
    stamps = [p.stat().st_mtime_ns for p in first]
    metadata_path(first[1]).unlink()  # as if the second video had been interrupted
    second = analyze_many(fakes.FakeSpec(), videos, workers=1)
    assert second == first
    assert second[0].stat().st_mtime_ns == stamps[0] and second[2].stat().st_mtime_ns == stamps[2]
    assert metadata_path(second[1]).is_file()  # redone


def test_a_video_whose_worker_died_is_retried(fakes, videos, tmp_path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = fakes.FakeSpec(die_on="20", marker_dir=str(markers))
    paths = analyze_many(spec, videos, workers=2)
    assert len(list(markers.glob("died-*"))) == 1  # it did die once
    check_outputs(paths, videos)


def test_a_video_that_always_kills_its_worker_is_given_up(fakes, videos, tmp_path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = fakes.FakeSpec(die_on="20", marker_dir=str(markers), always=True)
    with pytest.raises(VideoError, match=r"1 of 3 videos .*v20.avi: its worker died 2 times"):
        analyze_many(spec, videos, workers=2, retries=1)
    assert len(list(markers.glob("died-*"))) == 2
    h5 = [v.with_name(f"{v.stem}FakeDistributedshuffle1.h5") for v in videos]
    assert h5[0].is_file() and h5[2].is_file()
    assert not h5[1].exists() and not metadata_path(h5[1]).exists()  # nothing half-written


def test_a_broken_video_fails_alone(fakes, videos) -> None:
    broken = videos[0].with_name("broken.avi")
    broken.write_bytes(b"not a video at all")
    with pytest.raises(VideoError, match=r"1 of 4 videos could not be analyzed \(broken.avi"):
        analyze_many(fakes.FakeSpec(), [*videos, broken], workers=2)
    assert all(v.with_name(f"{v.stem}FakeDistributedshuffle1.h5").is_file() for v in videos)


def test_bad_inputs_are_refused_before_any_work(fakes, videos, tmp_path) -> None:
    with pytest.raises(MissingFileError, match="do not exist"):
        analyze_many(fakes.FakeSpec(), [*videos, tmp_path / "nope.mp4"])
    with pytest.raises(VideoError, match="workers"):
        analyze_many(fakes.FakeSpec(), videos, workers=-1)
    with pytest.raises(VideoError, match="retries"):
        analyze_many(fakes.FakeSpec(), videos, retries=-1)
    assert not list(videos[0].parent.glob("*.h5"))


def test_options_reach_the_workers(fakes, videos, tmp_path) -> None:
    out = tmp_path / "out"
    paths = analyze_many(fakes.FakeSpec(), videos, workers=2,
                         options=AnalyzeOptions(destination=out, downscale=0.5, batch_size=2))
    assert all(p.parent == out for p in paths)
    check_outputs(paths, videos)  # downscaled, still the exact full-frame centers
    assert json.loads(metadata_path(paths[0]).read_text())["inference"]["downscale"] == 0.5
