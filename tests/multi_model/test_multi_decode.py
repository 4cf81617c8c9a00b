"""Multi-peak decoding, the model description, and the predictor's frame handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.data.multi_targets import MultiTargetConfig, encode_multi_targets
from posekit.errors import ModelError
from posekit.multi.scoring import EdgePriors
from posekit.predict.multi_decode import (
    GroupingOptions,
    MultiModelSpec,
    MultiPredictor,
    PeakOptions,
    assemble_outputs,
    find_peaks,
    resize_frames,
)

EDGES = [(0, 1), (1, 2)]


def _peaks_map() -> np.ndarray:
    maps = np.zeros((1, 2, 8, 10), dtype=np.float32)
    maps[0, 0, 2, 3] = 0.9
    maps[0, 0, 2, 4] = 0.5   # beside a stronger peak: suppressed by the max-pool
    maps[0, 0, 6, 8] = 0.7
    maps[0, 0, 5, 1] = 0.05  # below the threshold
    maps[0, 1, 4, 4] = maps[0, 1, 4, 5] = 0.8  # a plateau: one candidate
    return maps


def test_local_maxima_above_the_threshold_are_candidates() -> None:
    [found] = find_peaks(_peaks_map(), stride=8, locref_stdev=1.0, logits=False)
    np.testing.assert_allclose(found[0], [[3 * 8 + 3.5, 2 * 8 + 3.5, 0.9],
                                          [8 * 8 + 3.5, 6 * 8 + 3.5, 0.7]], atol=1e-6)
    assert len(found[1]) == 1 and found[1][0, 2] == pytest.approx(0.8)


def test_numpy_and_torch_inputs_agree_and_logits_are_squashed() -> None:
    maps = _peaks_map()
    logits = np.log(np.clip(maps, 1e-6, 1 - 1e-6) / (1 - np.clip(maps, 1e-6, 1 - 1e-6)))
    offsets = np.random.default_rng(0).normal(size=(1, 4, 8, 10)).astype(np.float32)
    a = find_peaks(logits, offsets, stride=8, locref_stdev=2.0)
    b = find_peaks(torch.from_numpy(logits), torch.from_numpy(offsets), stride=8,
                   locref_stdev=2.0)
    for x, y in zip(a[0], b[0], strict=True):
        np.testing.assert_allclose(x, y, atol=1e-5)
    assert a[0][0][0, 2] == pytest.approx(0.9, abs=1e-5)


def test_options_limit_candidates() -> None:
    maps = _peaks_map()
    [found] = find_peaks(maps, stride=8, locref_stdev=1.0, logits=False,
                         options=PeakOptions(max_candidates=1))
    assert len(found[0]) == 1 and found[0][0, 2] == pytest.approx(0.9)
    [found] = find_peaks(maps, stride=8, locref_stdev=1.0, logits=False,
                         options=PeakOptions(threshold=0.01, nms_kernel=1, min_distance=0.0))
    assert len(found[0]) == 4
    [found] = find_peaks(maps, stride=8, locref_stdev=1.0, logits=False,
                         options=PeakOptions(threshold=0.95))
    assert all(len(c) == 0 and c.shape == (0, 3) for c in found)


@pytest.mark.parametrize("kwargs", [{"threshold": 0.0}, {"threshold": 1.0},
                                    {"nms_kernel": 2}, {"nms_kernel": 0},
                                    {"min_distance": -1.0}, {"max_candidates": 0}])
def test_bad_peak_options(kwargs: dict) -> None:
    with pytest.raises(ModelError):
        PeakOptions(**kwargs)


def test_bad_decoder_inputs() -> None:
    maps = _peaks_map()
    with pytest.raises(ModelError, match=r"\(B, K, h, w\)"):
        find_peaks(maps[0], stride=8, locref_stdev=1.0)
    with pytest.raises(ModelError, match="locref must have shape"):
        find_peaks(maps, np.zeros((1, 2, 8, 10)), stride=8, locref_stdev=1.0)
    with pytest.raises(ModelError, match="stride"):
        find_peaks(maps, stride=0, locref_stdev=1.0)
    with pytest.raises(ModelError, match="locref_stdev"):
        find_peaks(maps, stride=8, locref_stdev=0.0)
    with pytest.raises(ModelError, match="numpy array or torch tensor"):
        find_peaks([[1.0]], stride=8, locref_stdev=1.0)
    with pytest.raises(ModelError, match="one x/y pair per edge"):
        assemble_outputs([[np.zeros((0, 3))] * 3], np.zeros((1, 2, 4, 4)), edges=EDGES,
                         stride=8, max_individuals=2)


def test_more_animals_than_allowed_keeps_the_strongest() -> None:
    animals = np.array([[[10.0, 10.0], [30.0, 10.0], [50.0, 10.0]],
                        [[10.0, 40.0], [30.0, 40.0], [50.0, 40.0]],
                        [[10.0, 70.0], [30.0, 70.0], [np.nan, np.nan]]])
    targets = encode_multi_targets(animals, (96, 64), MultiTargetConfig(stride=4), EDGES)
    candidates = find_peaks(targets.heatmaps[None], targets.locref[None], stride=4,
                            locref_stdev=7.2801, logits=False)
    [(found, unique)] = assemble_outputs(candidates, targets.paf[None], edges=EDGES,
                                         stride=4, max_individuals=2)
    assert found.shape[0] == 2
    assert np.isfinite(found[..., 0]).all()  # the two complete animals
    assert np.isnan(unique).all()


def _spec(**changes) -> MultiModelSpec:
    base = dict(bodyparts=["head", "body", "tail"], unique_bodyparts=["corner"],
                individuals=["a", "b"], edges=EDGES, stride=4, locref_stdev=7.2801,
                global_scale=0.5,
                priors=EdgePriors(edges=tuple(EDGES), mean=np.array([10.0, 12.0]),
                                  std=np.array([1.0, 2.0]), n_samples=np.array([5, 5])))
    return MultiModelSpec(**{**base, **changes})


def test_spec_round_trips_through_json() -> None:
    import json

    spec = _spec()
    back = MultiModelSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert back.all_bodyparts == ["head", "body", "tail", "corner"]
    assert back.unique_indices == [3] and back.edges == EDGES and back.global_scale == 0.5
    np.testing.assert_allclose(back.priors.std, [1.0, 2.0])
    assert MultiModelSpec.from_json({**spec.to_json(), "priors": None}).priors is None
    with pytest.raises(ModelError, match="malformed"):
        MultiModelSpec.from_json({"edges": EDGES})


def test_predictor_maps_scaled_predictions_back_to_frame_pixels() -> None:
    """A fake network that "sees" the animals exactly: its outputs are the targets of the
    resized frame, so predictions must come back at the frame's keypoints."""
    spec = _spec(unique_bodyparts=[], priors=None)
    animals = np.array([[[40.3, 60.1], [80.2, 60.7], [120.6, 64.2]],
                        [[50.5, 150.5], [90.1, 140.4], [130.9, 150.8]]])
    config = MultiTargetConfig(stride=spec.stride, locref_stdev=spec.locref_stdev)

    def runner(images: np.ndarray) -> dict[str, np.ndarray]:
        assert images.shape == (1, 3, 96, 96)  # 180x180 -> 90x90, padded to 96x96
        scaled = (animals + 0.5) * 0.5 - 0.5
        t = encode_multi_targets(scaled, images.shape[2:], config, EDGES)
        logit = np.log(np.clip(t.heatmaps, 1e-6, 1 - 1e-6) / (1 - np.clip(t.heatmaps, 1e-6,
                                                                           1 - 1e-6)))
        return {"heatmaps": logit[None], "locref": t.locref[None], "paf": t.paf[None]}

    predictor = MultiPredictor(runner, spec=spec, options=GroupingOptions())
    [(found, unique)] = predictor.predict_frames(np.zeros((1, 180, 180, 3), np.uint8))
    order = np.argsort(found[:, 0, 1])
    np.testing.assert_allclose(found[order, :, :2], animals, atol=0.05)
    assert predictor.bodyparts == ["head", "body", "tail"] and unique.shape == (3, 3)
    with pytest.raises(ModelError, match="uint8 RGB"):
        predictor.predict_frames(np.zeros((180, 180, 3), np.uint8))


def test_resize_frames_reports_the_scale() -> None:
    frames = np.zeros((2, 101, 60, 3), np.uint8)
    small, (sx, sy) = resize_frames(frames, 0.5)
    assert small.shape == (2, 50, 30, 3) and sx == 0.5 and sy == pytest.approx(50 / 101)
    same, scale = resize_frames(frames, 1.0)
    assert same is frames and scale == (1.0, 1.0)
