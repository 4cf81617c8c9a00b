"""Multi-animal assembly and tracking on the two-fly clip (tests/data/sleap).

Data: ``clip.slp`` (1500 frames, both flies labeled by hand in every frame, identities
"female" and "male", 13 bodyparts) and ``clip.predictions.slp`` (a reference SLEAP model's
predictions of the same video: 2948 instances with only the head and thorax, tracked by
SLEAP's tracker).

Tracking
    The reference predictions are stripped of their identities (each frame's instances in a
    random order) and tracked by :func:`posekit.multi.track_individuals` with ``n_tracks=2``.
    Against the labeled tracks (head and thorax only): MOTA, IDF1, identity switches,
    keypoint RMSE (animals matched per frame; and per identity, through IDF1's global
    assignment), OKS mAP (sigma 0.1, areas from all 13 labeled keypoints), beside the same
    metrics of the reference's own tracks. A track matches a fly when their mean keypoint
    distance is at most 30 px (the flies' thoraxes are never closer than 72 px, so no
    detection can match both); 20 and 50 px are shown too. The labels themselves, stripped
    of identities (clean, and degraded: 5 % of detections and 20 % of keypoints dropped,
    3 px noise), are tracked as well.

Assembly
    Edges and edge-length priors are learned from every 10th labeled frame; in each of the
    other 1350 frames the keypoints of both flies are pooled per bodypart, moved by Gaussian
    noise (sigma 1 and 3 px) and reassembled with the distance prior. Reported: the fraction of
    frames assembled exactly right (both flies, every keypoint in the right one) and of
    keypoints put with the right fly, for the chosen spanning tree, the tree plus 4 extra
    edges, SLEAP's skeleton, and a minimum spanning tree on the coefficient of variation.

Run: ``python benchmarks/tracking.py``. Prints a table and writes
``benchmarks/results/tracking.json`` and ``.md``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree

from posekit import __version__
from posekit.evaluate.multi_metrics import mot_metrics, multi_animal_rmse, oks_map
from posekit.io.atomic import write_text_atomic
from posekit.multi import (
    DistancePriorScorer,
    assemble,
    choose_edges,
    edge_indices,
    learn_edge_priors,
    link_tracklets,
    track_individuals,
)
from posekit.multi.scoring import edge_lengths
from posekit.multi.tracking import estimate_scale

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "sleap"
RESULTS = REPO / "benchmarks" / "results"
THRESHOLDS = (20.0, 30.0, 50.0)
PRIMARY = 30.0
NOISES = (1.0, 3.0)


# --------------------------------------------------------------------------- data


def load_truth() -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """(1500, 2, 13, 2) labels [female, male], bodypart names, SLEAP's skeleton edges."""
    import sleap_io

    labels = sleap_io.load_slp(str(DATA / "clip.slp"))
    names = list(labels.skeletons[0].node_names)
    tracks = [t.name for t in labels.tracks]
    truth = np.full((1500, len(tracks), len(names), 2), np.nan)
    for frame in labels.labeled_frames:
        for inst in frame.instances:
            truth[frame.frame_idx, tracks.index(inst.track.name)] = inst.numpy()
    return truth, names, [(e.source.name, e.destination.name) for e in labels.skeletons[0].edges]


def load_reference() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Reference tracks (1500, 2, n_bp, 3), the same without identities, names, track names."""
    import sleap_io

    labels = sleap_io.load_slp(str(DATA / "clip.predictions.slp"))
    names = list(labels.skeletons[0].node_names)
    tracks = [t.name for t in labels.tracks]
    tracked = np.full((1500, len(tracks), len(names), 3), np.nan)
    stripped = np.full((1500, 2, len(names), 3), np.nan)
    rng = np.random.default_rng(0)
    for frame in labels.labeled_frames:
        instances = list(frame.instances)
        for n, i in enumerate(rng.permutation(len(instances))):
            stripped[frame.frame_idx, n] = instances[i].numpy(scores=True)
        for inst in instances:
            tracked[frame.frame_idx, tracks.index(inst.track.name)] = inst.numpy(scores=True)
    return tracked, stripped, names, tracks


# --------------------------------------------------------------------------- tracking


def identity_rmse(pred: np.ndarray, truth: np.ndarray, assignment: dict[int, int]) -> float:
    """RMSE of each labeled fly against the track IDF1 assigned to it (swaps count)."""
    errors = []
    for t, p in assignment.items():
        e = np.linalg.norm(pred[:, p, :, :2] - truth[:, t], axis=-1)
        errors.append(e[np.isfinite(e)])
    e = np.concatenate(errors) if errors else np.empty(0)
    return float(np.sqrt(np.mean(e ** 2))) if e.size else float("nan")


def score_tracks(pred: np.ndarray, truth: np.ndarray, areas: np.ndarray,
                 names: list[str]) -> dict:
    out = {}
    for thr in THRESHOLDS:
        m = mot_metrics(pred, truth, max_distance=thr)
        out[f"{thr:g}px"] = {k: m[k] for k in ("mota", "idf1", "id_switches", "misses",
                                               "false_positives", "motp_px")}
        out[f"{thr:g}px"]["switch_frames"] = [s[0] for s in m["switches"]]
        if thr == PRIMARY:
            out["identity_rmse_px"] = identity_rmse(pred, truth, m["id_assignment"])
    rmse = multi_animal_rmse(pred, truth, bodyparts=names)
    out["rmse_px"] = rmse["rmse_px"]
    out["median_error_px"] = rmse["median_error_px"]
    out["per_bodypart_rmse_px"] = rmse["per_bodypart_rmse_px"]
    out["n_predicted_animals"] = int(np.isfinite(pred[..., 0]).any(axis=2).sum())
    maps = oks_map(pred, truth, areas=areas)
    out.update({"mAP": maps["mAP"], "AP50": maps["AP50"], "AP75": maps["AP75"]})
    return out


def tracking(truth: np.ndarray, names: list[str]) -> dict:
    tracked, stripped, pred_names, track_names = load_reference()
    order = [names.index(n) for n in pred_names]
    sub = truth[:, :, order]
    lo, hi = np.nanmin(truth, axis=2), np.nanmax(truth, axis=2)
    areas = np.prod(hi - lo, axis=-1)                                     # (1500, 2)
    start = time.perf_counter()
    ours = track_individuals(stripped, n_tracks=2)
    seconds = time.perf_counter() - start
    scale = estimate_scale(stripped)
    n_tracklets = len(link_tracklets(stripped, scale=scale, max_detections=2))
    return {"bodyparts": pred_names, "reference_tracks": track_names,
            "n_reference_instances": int(np.isfinite(stripped[..., 0]).any(axis=2).sum()),
            "reference": score_tracks(tracked, sub, areas, pred_names),
            "posekit": score_tracks(ours, sub, areas, pred_names),
            "posekit_seconds": seconds, "posekit_tracklets": n_tracklets,
            "scale_px": scale}


def tracking_labels(truth: np.ndarray) -> dict:
    """The labels without identities, clean and degraded, tracked."""
    rng = np.random.default_rng(1)
    clean = np.concatenate([truth, np.ones((*truth.shape[:3], 1))], axis=-1)
    for f in range(len(clean)):
        clean[f] = clean[f, rng.permutation(2)]
    degraded = clean.copy()
    degraded[..., :2] += rng.normal(0, 3.0, degraded[..., :2].shape)
    degraded[rng.random(degraded.shape[:3]) < 0.2] = np.nan
    degraded[rng.random(degraded.shape[:2]) < 0.05] = np.nan
    out = {}
    for name, per_frame in (("clean", clean), ("degraded", degraded)):
        m = mot_metrics(track_individuals(per_frame, n_tracks=2), truth, max_distance=PRIMARY)
        out[name] = {k: m[k] for k in ("mota", "idf1", "id_switches", "misses",
                                       "false_positives")}
    return out


# --------------------------------------------------------------------------- assembly


def cv_tree(train: np.ndarray, names: list[str]) -> list[tuple[str, str]]:
    """Minimum spanning tree on the coefficient of variation of pair lengths (comparison)."""
    n = len(names)
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    cv = np.zeros((n, n))
    for (a, b), d in zip(pairs, edge_lengths(train, pairs), strict=True):
        cv[a, b] = d.std(ddof=1) / d.mean() + 1e-9
    tree = minimum_spanning_tree(cv).tocoo()
    return [(names[a], names[b]) for a, b in zip(tree.row, tree.col, strict=True)]


def reassemble(truth: np.ndarray, train: np.ndarray, test_frames: np.ndarray,
               edges: list[tuple[str, str]], names: list[str], noise: float) -> dict:
    idx = edge_indices(edges, names)
    scorer = DistancePriorScorer(learn_edge_priors(train, idx), keypoint_noise=noise)
    rng = np.random.default_rng(0)
    exact = right = total = 0
    start = time.perf_counter()
    for f in test_frames:
        noisy = truth[f] + rng.normal(0, noise, truth[f].shape)
        cands = []
        owner = []
        for k in range(len(names)):
            ok = np.isfinite(noisy[:, k, 0])
            cands.append(np.column_stack([noisy[ok, k], np.ones(ok.sum())]))
            owner.append(np.flatnonzero(ok))
        found = assemble(cands, idx, edge_scores=scorer, max_individuals=2)
        good, n_right = _grade(found, noisy, owner, cands)
        exact += good
        right += n_right
        total += int(np.isfinite(noisy[..., 0]).sum())
    return {"edges": [list(e) for e in edges], "n_edges": len(edges),
            "exact_frames": exact / len(test_frames), "keypoints_right": right / total,
            "ms_per_frame": 1000 * (time.perf_counter() - start) / len(test_frames)}


def _grade(found: np.ndarray, noisy: np.ndarray, owner: list[np.ndarray],
           cands: list[np.ndarray]) -> tuple[bool, int]:
    """Exactly right?, and keypoints in an individual whose majority is their own fly."""
    n_right = 0
    used = set()
    exact = len(found) == int(np.isfinite(noisy[..., 0]).any(axis=1).sum())
    for ind in found:
        flies = []
        for k in np.flatnonzero(np.isfinite(ind[:, 0])):
            row = int(np.argmin(np.linalg.norm(cands[k][:, :2] - ind[k, :2], axis=1)))
            flies.append(int(owner[k][row]))
        major = max(set(flies), key=flies.count)
        n_right += flies.count(major)
        complete = len(flies) == int(np.isfinite(noisy[major, :, 0]).sum())
        exact &= len(set(flies)) == 1 and complete and major not in used
        used.add(major)
    return exact, n_right


def assembly(truth: np.ndarray, names: list[str], skeleton: list[tuple[str, str]]) -> dict:
    train = truth[::10]
    test_frames = np.setdiff1d(np.arange(len(truth)), np.arange(0, len(truth), 10))
    chosen = choose_edges(train, names)
    variants = {"chosen tree": chosen,
                "chosen tree + 4": choose_edges(train, names, n_edges=len(chosen) + 4),
                "SLEAP skeleton": skeleton,
                "CV tree": cv_tree(train, names)}
    return {"train_frames": int(len(train)), "test_frames": int(len(test_frames)),
            "noise_px": list(NOISES),
            "variants": {name: {f"{noise:g}px": reassemble(truth, train, test_frames, edges,
                                                            names, noise)
                                for noise in NOISES}
                         for name, edges in variants.items()}}


# --------------------------------------------------------------------------- report


def _f(value: float, digits: int = 3) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def to_markdown(res: dict) -> str:
    t = res["tracking"]
    lines = ["# Multi-animal tracking and assembly benchmark", "",
             f"posekit {res['posekit_version']}, {res['machine']}, {res['date']}", "",
             "## Tracking the reference predictions (two flies, 1500 frames)", "",
             f"Reference: {t['n_reference_instances']} predicted instances with "
             f"{', '.join(t['bodyparts'])}, tracked by SLEAP. posekit: the same instances "
             "without identities, tracked with `track_individuals(n_tracks=2)` "
             f"({t['posekit_tracklets']} tracklets, {t['posekit_seconds']:.1f} s).", "",
             "| tracks | MOTA | IDF1 | ID switches | misses | false pos. | RMSE px | "
             "identity RMSE px | median err px | mAP | AP50 |", "|---" * 11 + "|"]
    for name in ("reference", "posekit"):
        s = t[name]
        p = s[f"{PRIMARY:g}px"]
        lines.append(f"| {name} | {_f(p['mota'])} | {_f(p['idf1'])} | {p['id_switches']} | "
                     f"{p['misses']} | {p['false_positives']} | {_f(s['rmse_px'], 1)} | "
                     f"{_f(s['identity_rmse_px'], 1)} | {_f(s['median_error_px'], 1)} | "
                     f"{_f(s['mAP'])} | {_f(s['AP50'])} |")
    lines += ["", f"Match threshold {PRIMARY:g} px (mean keypoint distance). Other thresholds:",
              "", "| tracks | threshold | MOTA | IDF1 | ID switches (frames) |", "|---" * 5 + "|"]
    for name in ("reference", "posekit"):
        for thr in THRESHOLDS:
            p = t[name][f"{thr:g}px"]
            lines.append(f"| {name} | {thr:g} px | {_f(p['mota'])} | {_f(p['idf1'])} | "
                         f"{p['id_switches']} {p['switch_frames'][:8]} |")
    lines += ["", "Notes: posekit moves no keypoint; it only decides which instance belongs to "
              "which track and drops instances no track takes (after frame ~980 many reference "
              "instances join one fly's head to the other's, or put the thorax 40-50 px off; "
              "the stitching rewards such implausible poses little). That is why it has fewer "
              "false positives, more misses, the same median error and a lower RMSE. At 50 px "
              "half a chimera can make a match: the one switch posekit has there (frame 1487) "
              "is an instance with its thorax 14 px from the male's and its head 79 px away, "
              "continuing the track of the detections beside the female; at 30 px it matches "
              "no fly."]
    lab = res["tracking_labels"]
    lines += ["", "## Tracking the labels without identities", "",
              "| input | MOTA | IDF1 | ID switches | misses |", "|---" * 5 + "|"]
    for name, m in lab.items():
        lines.append(f"| {name} | {_f(m['mota'])} | {_f(m['idf1'])} | {m['id_switches']} | "
                     f"{m['misses']} |")
    a = res["assembly"]
    lines += ["", "## Assembly of pooled labeled keypoints", "",
              f"Edges and priors from {a['train_frames']} frames (every 10th); "
              f"{a['test_frames']} other frames reassembled from pooled keypoints moved by "
              "Gaussian noise (sigma below; the scorer is told the same `keypoint_noise`).", "",
              "| edges | n | noise px | frames exactly right | keypoints right | ms/frame |",
              "|---" * 6 + "|"]
    for name, by_noise in a["variants"].items():
        for noise, v in by_noise.items():
            lines.append(f"| {name} | {v['n_edges']} | {noise[:-2]} | "
                         f"{_f(v['exact_frames'])} | {_f(v['keypoints_right'], 4)} | "
                         f"{_f(v['ms_per_frame'], 2)} |")
    lines += ["", "Chosen tree: " + ", ".join(
        f"{x}-{y}" for x, y in a["variants"]["chosen tree"]["1px"]["edges"]), ""]
    return "\n".join(lines)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    truth, names, skeleton = load_truth()
    res = {"posekit_version": __version__,
           "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs",
           "date": time.strftime("%Y-%m-%d"),
           "tracking": tracking(truth, names),
           "tracking_labels": tracking_labels(truth),
           "assembly": assembly(truth, names, skeleton)}
    p = res["tracking"]["posekit"][f"{PRIMARY:g}px"]
    res["target_zero_switches_met"] = p["id_switches"] == 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_text_atomic(RESULTS / "tracking.json", json.dumps(res, indent=2, default=float))
    met = res["target_zero_switches_met"]
    report = to_markdown(res) + f"\nTarget (zero identity switches over 1500 frames) met: {met}\n"
    write_text_atomic(RESULTS / "tracking.md", report)
    sys.stdout.write(report)


if __name__ == "__main__":
    main()
