"""Assembly of keypoint candidates into individuals: known-answer scenes and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from multi.scenes import candidates_of, flies_truth

from posekit.multi import (
    AssemblyOptions,
    DistancePriorScorer,
    MultiAnimalError,
    PafScorer,
    assemble,
    assemble_frames,
    choose_edges,
    combine_scorers,
    edge_indices,
    learn_edge_priors,
    pair_costs,
    pick_unique,
)

# Three bodyparts on a chain 0-1-2; edge 0-1 is 10 px long, edge 1-2 is 20 px.
CHAIN = [(0, 1), (1, 2)]


def animal(x: float, y: float) -> np.ndarray:
    """(3, 2): bodyparts at (x, y), (x+10, y), (x+10, y+20)."""
    return np.array([[x, y], [x + 10, y], [x + 10, y + 20]], dtype=float)


def chain_scorer(noise: float = 0.0) -> DistancePriorScorer:
    rng = np.random.default_rng(0)
    labels = np.stack([animal(0, 0) + rng.normal(0, 0.5, (3, 2)) for _ in range(20)])
    return DistancePriorScorer(learn_edge_priors(labels[:, None], CHAIN), keypoint_noise=noise)


def same_animals(found: np.ndarray, truth: list[np.ndarray]) -> bool:
    """Whether ``found`` (n, n_bp, 3) holds exactly the animals of ``truth`` (each (n_bp, 2))."""
    if len(found) != len(truth):
        return False
    remaining = list(truth)
    for ind in found:
        hit = [n for n, t in enumerate(remaining)
               if np.array_equal(np.isnan(ind[:, 0]), np.isnan(t[:, 0]))
               and np.allclose(np.nan_to_num(ind[:, :2]), np.nan_to_num(t))]
        if not hit:
            return False
        remaining.pop(hit[0])
    return True


def test_two_separate_animals_are_assembled_exactly():
    truth = [animal(0, 0), animal(100, 50)]
    found = assemble(candidates_of(np.stack(truth)), CHAIN, edge_scores=chain_scorer(),
                     max_individuals=2)
    assert found.shape == (2, 3, 3)
    assert same_animals(found, truth)


def test_candidate_order_does_not_matter_and_close_animals_are_separated():
    # 14 px apart: a 10 px edge could reach the neighbour's keypoint, but the matching
    # with the best total likelihood is the true one
    truth = [animal(0, 0), animal(4, 13)]
    cands = candidates_of(np.stack(truth))
    reordered = [c[::-1] for c in cands]
    for c in (cands, reordered):
        assert same_animals(assemble(c, CHAIN, edge_scores=chain_scorer(),
                                     max_individuals=2), truth)


def test_spurious_candidate_becomes_weakest_individual_and_is_capped():
    truth = [animal(0, 0), animal(100, 50)]
    cands = candidates_of(np.stack(truth))
    cands[1] = np.vstack([cands[1], [500.0, 500.0, 0.3]])         # far away, low score
    found = assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=3)
    assert len(found) == 3
    assert np.allclose(found[2, 1], [500, 500, 0.3]) and np.isnan(found[2, [0, 2]]).all()
    capped = assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=2)
    assert same_animals(capped, truth)


def test_clutter_of_spurious_candidates_leaves_the_animals_intact():
    rng = np.random.default_rng(4)
    truth = [animal(0, 0), animal(100, 50)]
    cands = candidates_of(np.stack(truth))
    cands = [np.vstack([c, np.column_stack([rng.uniform(1000, 2000, (30, 2)),
                                            rng.uniform(0.5, 1.0, 30)])]) for c in cands]
    found = assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=2)
    assert same_animals(found, truth)


def test_more_animals_than_allowed_keeps_the_strongest():
    truth = [animal(0, 0), animal(100, 0), animal(200, 0)]
    cands = []
    for k in range(3):
        xy = np.stack([t[k] for t in truth])
        cands.append(np.column_stack([xy, [0.9, 0.5, 0.8]]))     # animal 1 is the weakest
    found = assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=2)
    assert same_animals(found, [truth[0], truth[2]])
    assert found[0, 0, 2] == 0.9                                  # strongest first


def test_frame_without_candidates_gives_no_individuals():
    empty = [np.empty((0, 3))] * 3
    assert assemble(empty, CHAIN, edge_scores=chain_scorer(), max_individuals=2).shape == (0, 3, 3)
    nan_padded = [np.full((2, 3), np.nan)] * 3
    assert assemble(nan_padded, CHAIN, edge_scores=chain_scorer(),
                    max_individuals=2).shape == (0, 3, 3)


def test_individual_with_only_one_keypoint():
    lone = np.full((3, 2), np.nan)
    lone[2] = [300, 300]
    truth = [animal(0, 0), lone]
    found = assemble(candidates_of(np.stack(truth)), CHAIN, edge_scores=chain_scorer(),
                     max_individuals=2)
    assert same_animals(found, truth)
    dropped = assemble(candidates_of(np.stack(truth)), CHAIN, edge_scores=chain_scorer(),
                       max_individuals=2, options=AssemblyOptions(min_keypoints=2))
    assert same_animals(dropped, [truth[0]])


def test_missing_middle_keypoint_splits_a_tree_but_not_a_cycle():
    # bodypart 1 missing: the chain 0-1-2 falls apart, the extra edge 0-2 holds it together
    a = animal(0, 0)
    a[1] = np.nan
    labels = np.stack([animal(0, 0)] * 5 + [animal(1, 1)])[:, None]
    tree = DistancePriorScorer(learn_edge_priors(labels, CHAIN))
    found = assemble(candidates_of(a[None]), CHAIN, edge_scores=tree, max_individuals=5)
    assert len(found) == 2
    cycle_edges = CHAIN + [(0, 2)]
    cycle = DistancePriorScorer(learn_edge_priors(labels, cycle_edges))
    found = assemble(candidates_of(a[None]), cycle_edges, edge_scores=cycle, max_individuals=5)
    assert same_animals(found, [a])


def test_fragments_of_an_animal_are_repaired_when_over_capacity():
    # animal 1's edge 1-2 is 5.5 px too long (5.5 standard deviations): the link is refused and
    # the animal falls in two; with two individuals allowed, the fragment rejoins it
    odd = animal(100, 50)
    odd[2, 1] += 5.5
    truth = [animal(0, 0), odd]
    cands = candidates_of(np.stack(truth))
    found = assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=3)
    assert len(found) == 3                                      # room for the fragment
    repaired = assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=2)
    assert same_animals(repaired, truth)
    no_repair = assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=2,
                         options=AssemblyOptions(repair=False))
    assert not same_animals(no_repair, truth)
    assert np.isnan(no_repair[:, :, 0]).sum() == 1              # the fragment was dropped


def test_labels_with_one_keypoint_per_animal_teach_nothing_but_do_no_harm():
    labels = np.full((6, 2, 3, 2), np.nan)
    labels[:, 0] = animal(0, 0)
    labels[:, 1, 0] = [50, 50]                                  # second animal: one keypoint
    priors = learn_edge_priors(labels, CHAIN)
    assert priors.n_samples.tolist() == [6, 6] and priors.mean[0] == pytest.approx(10)


def test_unique_bodyparts_are_left_out_and_picked_separately():
    truth = np.stack([animal(0, 0), animal(100, 50)])
    cands = candidates_of(truth)
    cands.append(np.array([[5.0, 5.0, 0.4], [600.0, 10.0, 0.9]]))   # bodypart 3: unique
    found = assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=2,
                     unique_bodyparts=[3])
    assert found.shape == (2, 4, 3) and np.isnan(found[:, 3]).all()
    assert same_animals(found[:, :3], list(truth))
    single = pick_unique(cands, [3])
    assert np.allclose(single[3], [600, 10, 0.9]) and np.isnan(single[:3]).all()


def test_assemble_frames_pads_and_accepts_per_frame_scorers():
    frames = [candidates_of(np.stack([animal(0, 0), animal(100, 50)])),
              [np.empty((0, 3))] * 3,
              candidates_of(animal(7, 7)[None])]
    out = assemble_frames(frames, CHAIN, edge_scores=chain_scorer(), max_individuals=3)
    assert out.shape == (3, 3, 3, 3)
    assert np.isfinite(out[0, :2, :, 0]).all() and np.isnan(out[0, 2]).all()
    assert np.isnan(out[1]).all()
    assert np.allclose(out[2, 0, :, :2], animal(7, 7))
    per_frame = assemble_frames(frames, CHAIN, edge_scores=[chain_scorer()] * 3,
                                max_individuals=3)
    assert np.array_equal(np.isnan(per_frame), np.isnan(out))
    with pytest.raises(MultiAnimalError, match="one per frame"):
        assemble_frames(frames, CHAIN, edge_scores=[chain_scorer()] * 2, max_individuals=3)


# --------------------------------------------------------------------------- PAF


def paint_paf(shape: tuple[int, int], stride: int, limbs: list[tuple[np.ndarray, np.ndarray]],
              width: float = 5.0) -> np.ndarray:
    """A (2, H', W') field: unit vectors p -> q on cells within ``width`` px of each limb."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w]
    cx, cy = xs * stride + (stride - 1) / 2, ys * stride + (stride - 1) / 2
    field = np.zeros((2, h, w))
    for p, q in limbs:
        u = (q - p) / np.linalg.norm(q - p)
        rel_x, rel_y = cx - p[0], cy - p[1]
        along = rel_x * u[0] + rel_y * u[1]
        across = np.abs(-rel_x * u[1] + rel_y * u[0])
        on = (along >= -width) & (along <= np.linalg.norm(q - p) + width) & (across <= width)
        field[0][on], field[1][on] = u[0], u[1]
    return field


def test_paf_edge_score_known_values():
    from posekit.multi import paf_edge_score

    field = np.zeros((2, 20, 20))
    field[0] = 1.0                                             # unit vectors along +x
    p = np.array([2.0, 5.0])
    assert paf_edge_score(field[0], field[1], p, p + [10, 0]) == pytest.approx(1.0)
    assert paf_edge_score(field[0], field[1], p, p - [2, 0]) == pytest.approx(-1.0)
    assert paf_edge_score(field[0], field[1], p, p + [0, 10]) == pytest.approx(0.0)
    assert paf_edge_score(field[0], field[1], p, p + [5, 5]) == pytest.approx(np.sqrt(0.5))
    assert paf_edge_score(field[0], field[1], p, p) == 0.0           # zero-length segment
    # broadcasting: all pairs at once
    ps = np.array([[0.0, 0.0], [3.0, 3.0]])
    qs = np.array([[10.0, 0.0], [3.0, 9.0], [0.0, 0.0]])
    scores = paf_edge_score(field[0], field[1], ps[:, None], qs[None, :])
    assert scores.shape == (2, 3)


def test_paf_stride_maps_cells_to_pixels():
    from posekit.multi import paf_edge_score

    stride = 4
    p, q = np.array([20.0, 30.0]), np.array([60.0, 30.0])
    field = paint_paf((20, 20), stride, [(p, q)])
    assert paf_edge_score(field[0], field[1], p, q, 10, stride=stride) == pytest.approx(1.0)
    # the same segment 12 px lower lies off the limb
    off = np.array([0.0, 12.0])
    assert paf_edge_score(field[0], field[1], p + off, q + off, 10, stride=stride) \
        == pytest.approx(0.0)
    # read at the wrong stride, the field is somewhere else
    assert paf_edge_score(field[0], field[1], p, q, 10, stride=1) < 0.5


def test_paf_separates_animals_that_distances_cannot():
    # two animals on the sides of a 40 px square: every candidate pair is 40 px apart, so a
    # distance prior cannot tell them; the fields can
    a1, b1 = np.array([20.0, 20.0]), np.array([60.0, 20.0])
    a2, b2 = np.array([60.0, 60.0]), np.array([20.0, 60.0])
    pafs = paint_paf((20, 20), 4, [(a1, b1), (a2, b2)])[None]           # (1 edge, 2, H', W')
    cands = [np.array([[*a1, 1.0], [*a2, 1.0]]), np.array([[*b2, 1.0], [*b1, 1.0]])]
    found = assemble(cands, [(0, 1)], edge_scores=PafScorer(pafs, stride=4), max_individuals=2)
    assert same_animals(found, [np.stack([a1, b1]), np.stack([a2, b2])])
    labels = np.stack([np.stack([a1, b1])] * 3 + [np.stack([a1, b1 + [0, 1]])])[:, None]
    prior = DistancePriorScorer(learn_edge_priors(labels, [(0, 1)]))
    both = combine_scorers(PafScorer(pafs, stride=4), prior)
    assert same_animals(assemble(cands, [(0, 1)], edge_scores=both, max_individuals=2),
                        [np.stack([a1, b1]), np.stack([a2, b2])])
    assert both.min_score == pytest.approx(0.05 * prior.min_score)


# --------------------------------------------------------------------------- priors, edges


def test_learn_edge_priors_known_statistics():
    labels = np.full((4, 2, 3, 2), np.nan)
    for n, length in enumerate([8.0, 10.0, 12.0, 10.0]):
        labels[n, 0, 0] = [0, 0]
        labels[n, 0, 1] = [length, 0]
    labels[0, 1, 0], labels[0, 1, 1] = [50, 50], [50, 60]              # a second animal: 10
    priors = learn_edge_priors(labels, [(0, 1)], min_std=0.1)
    lengths = np.array([8, 10, 12, 10, 10.0])
    assert priors.mean[0] == pytest.approx(lengths.mean())
    assert priors.std[0] == pytest.approx(lengths.std(ddof=1))
    assert priors.n_samples[0] == 5
    assert learn_edge_priors(labels, [(0, 1)], min_std=5.0).std[0] == 5.0
    with pytest.raises(MultiAnimalError, match=r"edge \(0, 2\).*labeled together on 0"):
        learn_edge_priors(labels, [(0, 2)])


def test_choose_edges_prefers_rigid_pairs():
    # bodyparts: 0 and 1 rigidly 10 px apart; 2 rigid to 1 (15 px); 3 floppy relative to all
    rng = np.random.default_rng(1)
    n = 50
    labels = np.zeros((n, 1, 4, 2))
    labels[:, 0, 0] = rng.uniform(0, 100, (n, 2))
    labels[:, 0, 1] = labels[:, 0, 0] + [10, 0]
    labels[:, 0, 2] = labels[:, 0, 1] + [0, 15]
    angle = rng.uniform(0, 2 * np.pi, n)
    labels[:, 0, 3] = labels[:, 0, 1] + 20 * np.column_stack([np.cos(angle), np.sin(angle)]) \
        + rng.normal(0, 3, (n, 2))
    names = ["a", "b", "c", "d"]
    edges = choose_edges(labels, names)
    assert len(edges) == 3
    assert {frozenset(e) for e in edges[:2]} == {frozenset("ab"), frozenset("bc")}
    assert "d" in edges[2]
    more = choose_edges(labels, names, n_edges=5)
    assert len(more) == 5 and more[:3] == edges and len({frozenset(e) for e in more}) == 5
    kept = choose_edges(labels, names, keep=[("a", "d")])
    assert kept[0] == ("a", "d") and len(kept) == 3
    no_d = choose_edges(labels, names, exclude=["d"])
    assert len(no_d) == 2 and all("d" not in e for e in no_d)


def test_choose_edges_avoids_hubs_that_are_often_missing():
    # x and y lie 13 px from both c and h (on either side of the c-h line, at random), so
    # c and h are equally good hubs; h is missing on 40 % of the animals: h must be a leaf
    rng = np.random.default_rng(3)
    n = 60
    labels = np.zeros((n, 1, 4, 2))
    labels[:, 0, 0] = rng.uniform(0, 100, (n, 2))                      # c
    labels[:, 0, 1] = labels[:, 0, 0] + [10, 0]                        # h
    for k in (2, 3):                                                   # x, y
        labels[:, 0, k] = labels[:, 0, 0] + np.column_stack(
            [np.full(n, 5.0), 12 * rng.choice([-1, 1], n)])
    labels += rng.normal(0, 0.3, labels.shape)
    labels[:24, 0, 1] = np.nan
    edges = choose_edges(labels, ["c", "h", "x", "y"])
    assert sum("h" in e for e in edges) == 1
    assert pair_costs(labels)[1, 2] > pair_costs(labels, missing_weight=0.0)[1, 2]
    no_penalty = choose_edges(labels, ["c", "h", "x", "y"], missing_weight=0.0)
    assert sum("h" in e for e in no_penalty) >= 2


def test_choose_edges_bad_input():
    labels = np.zeros((5, 1, 3, 2))
    labels[:, 0, 1] = [10, 0]
    labels[:, 0, 2] = [0, 10]
    with pytest.raises(MultiAnimalError, match="n_edges must be an integer >= 2"):
        choose_edges(labels, ["a", "b", "c"], n_edges=1)
    with pytest.raises(MultiAnimalError, match="3 unique names"):
        choose_edges(labels, ["a", "b"])
    with pytest.raises(MultiAnimalError, match="unknown"):
        choose_edges(labels, ["a", "b", "c"], exclude=["z"])
    with pytest.raises(MultiAnimalError, match="shape"):
        choose_edges(labels[0], ["a", "b", "c"])
    never = labels.copy()
    never[:, :, 2] = np.nan
    with pytest.raises(MultiAnimalError, match=r"\['c'\] are never labeled together"):
        choose_edges(never, ["a", "b", "c"])
    with pytest.raises(MultiAnimalError, match="unknown"):
        edge_indices([("a", "z")], ["a", "b"])


def test_flies_edges_and_reassembly():
    """Edges chosen on every 10th labeled frame of the two flies reassemble frames 1100-1199
    (the flies move and come close there) from pooled, slightly noisy keypoints."""
    truth, names, _ = flies_truth()
    train = truth[::10]
    edges = choose_edges(train, names)
    assert len(edges) == len(names) - 1
    assert len({b for e in edges for b in e}) == len(names)             # spanning
    idx = edge_indices(edges, names)
    scorer = DistancePriorScorer(learn_edge_priors(train, idx), keypoint_noise=1.0)
    rng = np.random.default_rng(0)
    exact = 0
    for f in range(1100, 1200):
        noisy = truth[f] + rng.normal(0, 1.0, truth[f].shape)
        found = assemble(candidates_of(noisy), idx, edge_scores=scorer, max_individuals=2)
        exact += same_animals(found, list(noisy))
    assert exact >= 90


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("candidates, match", [
    ([np.zeros((2, 2))] * 3, r"candidates\[0\] must have shape \(n_k, 3\)"),
    ([], "non-empty list"),
    ("abc", "non-empty list"),
    ([np.array([[1.0, 2.0, np.nan]])] * 3, "NaN or infinite score"),
])
def test_bad_candidates(candidates, match):
    with pytest.raises(MultiAnimalError, match=match):
        assemble(candidates, CHAIN, edge_scores=chain_scorer(), max_individuals=2)


def test_bad_edges_scorers_and_options():
    cands = candidates_of(animal(0, 0)[None])
    with pytest.raises(MultiAnimalError, match="pairs of two different bodypart indices"):
        assemble(cands, [(0, 3)], edge_scores=chain_scorer(), max_individuals=2)
    with pytest.raises(MultiAnimalError, match="pairs of two different bodypart indices"):
        assemble(cands, [(1, 1)], edge_scores=chain_scorer(), max_individuals=2)
    with pytest.raises(MultiAnimalError, match="made for edges"):
        assemble(cands, [(0, 2)], edge_scores=chain_scorer(), max_individuals=2)
    with pytest.raises(MultiAnimalError, match="touch unique bodyparts"):
        assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=2,
                 unique_bodyparts=[2])
    with pytest.raises(MultiAnimalError, match="max_individuals must be an integer >= 1"):
        assemble(cands, CHAIN, edge_scores=chain_scorer(), max_individuals=0)
    with pytest.raises(MultiAnimalError, match="returned shape"):
        assemble(cands, CHAIN, edge_scores=lambda e, a, b: np.ones(3), max_individuals=2)
    with pytest.raises(MultiAnimalError, match="min_edge_score"):
        AssemblyOptions(min_edge_score=1.5)
    with pytest.raises(MultiAnimalError, match="matching"):
        AssemblyOptions(matching="greedy")
    with pytest.raises(MultiAnimalError, match="unique_bodyparts"):
        pick_unique(cands, [7])
    with pytest.raises(MultiAnimalError, match=r"\(n_edges, 2, H', W'\)"):
        PafScorer(np.zeros((2, 10, 10)), stride=8)
    with pytest.raises(MultiAnimalError, match="has no part affinity field"):
        assemble(cands, CHAIN, edge_scores=PafScorer(np.zeros((1, 2, 5, 5)), stride=8),
                 max_individuals=2)
    with pytest.raises(MultiAnimalError, match="EdgePriors"):
        DistancePriorScorer({"mean": 1})
    with pytest.raises(MultiAnimalError, match="keypoint_noise"):
        DistancePriorScorer(chain_scorer().priors, keypoint_noise=-1)
