"""Multi-animal targets: known answers for score maps, offsets and part affinity fields."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from posekit.data.multi_targets import (
    MultiTargetConfig,
    MultiTargetEncoder,
    encode_multi_targets,
)
from posekit.data.targets import TargetConfig, cell_centers
from posekit.errors import ModelError
from posekit.multi.scoring import paf_edge_score
from posekit.predict.multi_decode import PeakOptions, assemble_outputs, find_peaks

EDGES = [(0, 1), (1, 2)]


def _two_animals() -> np.ndarray:
    return np.array([[[20.3, 30.7], [50.1, 33.2], [80.9, 40.4]],
                     [[100.2, 90.5], [70.6, 95.1], [40.2, 100.8]]])


def _decode(targets, stride: int) -> list[np.ndarray]:
    [found] = find_peaks(targets.heatmaps[None], targets.locref[None], stride=stride,
                         locref_stdev=7.2801, logits=False)
    return found


@pytest.mark.parametrize("stride", [4, 8])
@pytest.mark.parametrize("kind", ["gaussian", "disk"])
def test_every_animals_keypoint_decodes_back(stride: int, kind: str) -> None:
    rng = np.random.default_rng(stride)
    config = MultiTargetConfig(stride=stride, kind=kind)
    for _ in range(5):
        animals = _two_animals() + rng.uniform(-6, 6, size=(2, 1, 2))
        targets = encode_multi_targets(animals, (128, 160), config, EDGES)
        for part, cands in enumerate(_decode(targets, stride)):
            assert len(cands) == 2, (part, cands)
            for animal in animals:
                nearest = np.min(np.linalg.norm(cands[:, :2] - animal[part], axis=1))
                assert nearest < 0.05


def test_score_maps_are_the_maximum_over_animals_and_offsets_point_at_the_nearest() -> None:
    animals = _two_animals()
    config = MultiTargetConfig(stride=8)
    both = encode_multi_targets(animals, (128, 160), config, EDGES)
    first = encode_multi_targets(animals[:1], (128, 160), config, EDGES)
    second = encode_multi_targets(animals[1:], (128, 160), config, EDGES)
    np.testing.assert_allclose(both.heatmaps, np.maximum(first.heatmaps, second.heatmaps))
    # the cell nearest animal 0's head points at animal 0's head, not animal 1's
    j, i = int(20.3 // 8), int(30.7 // 8)
    cx, cy = cell_centers(20, 8)[j], cell_centers(16, 8)[i]
    offset = both.locref[0:2, i, j] * config.locref_stdev
    np.testing.assert_allclose([cx + offset[0], cy + offset[1]], animals[0, 0], atol=1e-4)


def test_fields_point_from_a_to_b_on_the_limb_and_are_zero_elsewhere() -> None:
    animal = np.array([[[20.0, 40.0], [100.0, 40.0], [np.nan, np.nan]]])  # horizontal limb
    config = MultiTargetConfig(stride=4, paf_half_width=4.0)
    targets = encode_multi_targets(animal, (80, 128), config, EDGES)
    px, py = targets.paf[0], targets.paf[1]
    xs, ys = cell_centers(32, 4), cell_centers(20, 4)
    on = (np.abs(ys[:, None] - 40.0) <= 4.0) & (xs[None, :] >= 16.0) & (xs[None, :] <= 104.0)
    assert on.sum() > 20
    np.testing.assert_allclose(px[on], 1.0)
    np.testing.assert_allclose(py[on], 0.0)
    assert not px[~on].any() and not py[~on].any()
    score = paf_edge_score(px, py, animal[0, 0], animal[0, 1], stride=4)
    assert score == pytest.approx(1.0)
    assert paf_edge_score(px, py, animal[0, 1], animal[0, 0], stride=4) == pytest.approx(-1.0)
    # edge (1, 2): body -> tail has no visible tail, so it is unknown around the body
    assert targets.paf_weights[:2].all() and not targets.paf[2:].any()
    assert not targets.paf_weights[2:].any()


def test_true_pairs_score_high_and_cross_pairs_low() -> None:
    animals = _two_animals()
    targets = encode_multi_targets(animals, (128, 160), MultiTargetConfig(stride=8), EDGES)
    scores = paf_edge_score(targets.paf[0], targets.paf[1], animals[:, 0][:, None],
                            animals[:, 1][None], stride=8)
    assert scores[0, 0] > 0.95 and scores[1, 1] > 0.95
    assert scores[0, 1] < 0.5 and scores[1, 0] < 0.5


def test_overlapping_limbs_are_averaged() -> None:
    animals = np.array([[[10.0, 30.0], [50.0, 30.0], [np.nan, np.nan]],     # left to right
                        [[30.0, 10.0], [30.0, 50.0], [np.nan, np.nan]]])    # top to bottom
    targets = encode_multi_targets(animals, (64, 64), MultiTargetConfig(stride=4),
                                   [(0, 1)])
    i = j = int(np.argmin(np.abs(cell_centers(16, 4) - 30.0)))
    np.testing.assert_allclose(targets.paf[:, i, j], [0.5, 0.5], atol=1e-6)


def test_half_labeled_limb_is_ignored_around_its_visible_end() -> None:
    animals = np.array([[[20.0, 20.0], [40.0, 20.0], [60.0, 20.0]],
                        [[20.0, 90.0], [np.nan, np.nan], [60.0, 90.0]]])
    config = MultiTargetConfig(stride=4, paf_half_width=4.0)
    targets = encode_multi_targets(animals, (128, 128), config, EDGES)
    xs = cell_centers(32, 4)
    near_head = (xs[:, None] - 90.0) ** 2 + (xs[None, :] - 20.0) ** 2 <= (20.0 + 4.0) ** 2
    assert not targets.paf_weights[0][near_head].any()
    assert targets.paf_weights[0][~near_head].all()
    # the labeled animal's limb is still taught
    assert targets.paf[0].max() == pytest.approx(1.0)


def test_image_without_animals_teaches_nothing_here() -> None:
    config = MultiTargetConfig(stride=8, absent_weight=0.5)
    for animals in (np.zeros((0, 3, 2)), np.full((2, 3, 2), np.nan)):
        targets = encode_multi_targets(animals, (64, 64), config, EDGES)
        assert not targets.heatmaps.any() and not targets.locref_weights.any()
        np.testing.assert_array_equal(targets.heatmap_weights, 0.5)
        assert not targets.paf.any() and targets.paf_weights.all()
        assert targets.paf.shape == (4, 8, 8)


def test_keypoints_outside_the_image_are_not_visible() -> None:
    animals = _two_animals()
    animals[1] += 500.0
    targets = encode_multi_targets(animals, (128, 160), MultiTargetConfig(stride=8), EDGES)
    found = _decode(targets, 8)
    assert all(len(c) == 1 for c in found)


def test_known_answer_grouping_recovers_each_animal() -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        animals = _two_animals() + rng.uniform(-4, 4, size=(2, 1, 2))
        targets = encode_multi_targets(animals, (128, 160), MultiTargetConfig(stride=8), EDGES)
        candidates = find_peaks(targets.heatmaps[None], targets.locref[None], stride=8,
                                locref_stdev=7.2801, logits=False, options=PeakOptions())
        [(individuals, _)] = assemble_outputs(candidates, targets.paf[None], edges=EDGES,
                                              stride=8, max_individuals=2)
        assert individuals.shape == (2, 3, 3)
        order = np.argsort(individuals[:, 0, 0])
        got = individuals[order, :, :2]
        want = animals[np.argsort(animals[:, 0, 0])]
        np.testing.assert_allclose(got, want, atol=0.05)


def test_encoder_for_the_dataset() -> None:
    encoder = MultiTargetEncoder(MultiTargetConfig(stride=8), EDGES)
    targets = encoder(_two_animals(), (128, 160))
    assert targets._fields[-2:] == ("paf", "paf_weights")
    assert targets.heatmaps.dtype == np.float32 and targets.paf.shape == (4, 16, 20)


def test_bad_inputs_raise_clear_errors() -> None:
    config = MultiTargetConfig(stride=8)
    with pytest.raises(ModelError, match=r"\(n_individuals, K, 2\)"):
        encode_multi_targets(np.zeros((3, 2)), (64, 64), config, EDGES)
    with pytest.raises(ModelError, match="numeric"):
        encode_multi_targets([["a", "b"]], (64, 64), config, EDGES)
    with pytest.raises(ModelError, match="two different bodyparts"):
        encode_multi_targets(_two_animals(), (64, 64), config, [(0, 3)])
    with pytest.raises(ModelError, match="two different bodyparts"):
        encode_multi_targets(_two_animals(), (64, 64), config, [(1, 1)])
    with pytest.raises(ModelError, match="pair of bodypart indices"):
        encode_multi_targets(_two_animals(), (64, 64), config, [(0,)])
    with pytest.raises(ModelError, match="MultiTargetConfig"):
        encode_multi_targets(_two_animals(), (64, 64), TargetConfig(stride=8), EDGES)
    with pytest.raises(ModelError, match="image_size"):
        encode_multi_targets(_two_animals(), (64, 0), config, EDGES)
    with pytest.raises(ValidationError, match="paf_half_width"):
        MultiTargetConfig(stride=8, paf_half_width=2.0)
    with pytest.raises(ValidationError):
        MultiTargetConfig(stride=8, paf_width=3.0)  # unknown key
