"""The refinement loop end to end: analyze, extract outliers, refine, merge, retrain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.data.splits import create_dataset, load_split
from posekit.errors import ModelError, ProjectError
from posekit.frames.outliers import extract_outlier_frames
from posekit.postprocess.outliers import OutlierOptions
from posekit.predict.analyze import AnalyzeOptions
from posekit.predict.trained import analyze_videos
from posekit.project import open_project
from posekit.project.iterations import merge
from posekit.project.labels import read_folder_labels, write_folder_labels
from posekit.train.folder import previous_iteration_checkpoint
from posekit.train.loop import train


def test_full_refinement_loop(tiny_project, quick_options) -> None:
    train(tiny_project, options=quick_options(epochs=1))
    video = tiny_project.root / "videos" / "clip.mp4"
    analyze_videos(tiny_project, [video], options=AnalyzeOptions(batch_size=6), device="cpu")
    written = extract_outlier_frames(tiny_project, video, method="list", n=2,
                                     options=OutlierOptions(frames=(3, 8)))
    assert sorted(p.name for p in written) == ["img03.png", "img08.png"]
    machine = tiny_project.labeled_data_dir / "clip" / "machinelabels-iter0.h5"
    assert machine.is_file()

    with pytest.raises(ProjectError, match="Nothing to merge"):
        merge(tiny_project)
    # refine: accept the machine's points for frame 3 as labels (what the labeling app does)
    predicted = pd.read_hdf(machine, "df_with_missing")
    labels = read_folder_labels(tiny_project, "clip")
    row = predicted.loc[("labeled-data", "clip", "img03.png")]
    points = row.to_numpy().reshape(1, 1, 4, 3)[..., :2]
    labels = type(labels)(images=["labeled-data/clip/img03.png"], points=points,
                          bodyparts=labels.bodyparts, individuals=labels.individuals,
                          scorer=labels.scorer)
    write_folder_labels(tiny_project, "clip", labels)
    with pytest.raises(ProjectError, match="not refined yet.*'clip': 1"):
        merge(tiny_project)

    report = merge(tiny_project, force=True)
    assert report.iteration == 1 and report.refined == {"clip": 1}
    assert report.unrefined == {"clip": ["labeled-data/clip/img08.png"]}
    project = open_project(tiny_project.root)
    assert project.config.iteration == 1

    create_dataset(project, shuffles=1, train_fraction=0.8)
    split = load_split(project, 1)
    assert "labeled-data/clip/img03.png" in split.train_images + split.test_images
    start = previous_iteration_checkpoint(project, 1)
    assert "iteration-0" in str(start)
    result = train(project, options=quick_options(epochs=1, init_from=start))
    assert result.folder.path.parent.name == "iteration-1"
    assert (project.models_dir / "iteration-0").is_dir()  # the old model is untouched
    assert np.isfinite(result.final_test_error)


def test_merge_with_nothing_refined(tiny_project) -> None:
    with pytest.raises(ProjectError, match="Nothing to merge"):
        merge(tiny_project)


def test_no_previous_iteration(tiny_project) -> None:
    with pytest.raises(ModelError, match="iteration 0"):
        previous_iteration_checkpoint(tiny_project, 1)
