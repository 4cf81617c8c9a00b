"""Multi-animal benchmark: train the bottom-up model on part of the two-fly clip, analyze it all.

Data: ``tests/data/sleap/clip.slp`` (1500 frames of two flies, both labeled by hand in every
frame with identities "female"/"male", 13 bodyparts, 1024x1024 grayscale video
``clip.mp4``) and ``clip.predictions.slp`` (a reference SLEAP model's tracked predictions of
the same video; head and thorax only).

Stages (each cached in ``--workdir``, so they can run one at a time):

1. ``prepare``: a fresh multi-animal project (individuals female, male; left/right pairs
   declared for flips) gets ``--frames`` labeled frames spread evenly over the clip
   (``import_slp(max_frames=...)``), and a training set (80 % train).
2. ``train``: :func:`posekit.train.multi_loop.train_multi` (ImageNet MobileNetV2, crops around
   the flies, frames resized by ``--global-scale``) for ``--epochs`` epochs.
3. ``analyze``: the whole clip through the network (ONNX Runtime), assembly (part affinity
   fields x limb-length prior) and tracking into two tracks, written as DeepLabCut h5 + .slp.
4. ``report``: against the labels of every frame *not used for training* (held out):
   keypoint RMSE after matching animals per frame, and OKS mAP (sigma 0.1); over the whole
   clip: MOTA, IDF1 and identity switches (a track matches a fly within 30 px mean keypoint
   distance; 20 and 50 px too). The reference predictions get the same metrics on the same
   frames; as they hold only head and thorax, ours are also scored on those two. Metric code
   and loaders are :mod:`posekit.evaluate.multi_metrics` and ``benchmarks/tracking.py``'s.

Usage::

    .venv/bin/python benchmarks/multi_animal.py --epochs 15            # all stages
    .venv/bin/python benchmarks/multi_animal.py --stage report          # metrics only

Prints a table and writes ``benchmarks/results/multi_animal.{json,md}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "sleap"
RESULTS = REPO / "benchmarks" / "results"
INDIVIDUALS = ["female", "male"]
PAIRS = [["wingL", "wingR"], ["forelegL4", "forelegR4"], ["midlegL4", "midlegR4"],
         ["hindlegL4", "hindlegR4"], ["eyeL", "eyeR"]]


def _tracking_module():
    spec = importlib.util.spec_from_file_location("bench_tracking",
                                                  REPO / "benchmarks" / "tracking.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(work: Path, n_frames: int):
    from posekit.data.splits import create_dataset
    from posekit.io.sleap import import_slp
    from posekit.project import open_project
    from posekit.project.create import create_project

    existing = sorted(work.glob("flies-bench-*/config.yaml"))
    if existing:
        return open_project(existing[0].parent)
    work.mkdir(parents=True, exist_ok=True)
    project = create_project("flies", "bench", [DATA / "clip.mp4"], working_directory=work,
                             individuals=INDIVIDUALS)
    import_slp(project, DATA / "clip.slp", max_frames=n_frames)
    project = open_project(project.root)
    project.config.symmetric_pairs = PAIRS
    project.save()
    project = open_project(project.root)
    create_dataset(project, shuffles=1, train_fraction=0.8, seed=0)
    return project


def train_stage(project, args) -> dict:
    from posekit.data.splits import load_split
    from posekit.train.folder import model_folder
    from posekit.train.multi_loop import MultiAnimalOptions, train_multi
    from posekit.train.options import TrainOptions

    folder = model_folder(project, load_split(project, 1))
    if folder.last.is_file() and not args.retrain:
        return json.loads((folder.path / "bench_train.json").read_text())
    options = TrainOptions(epochs=args.epochs, batch_size=args.batch_size,
                           crop_size=(args.crop, args.crop), output_stride=args.stride,
                           threads=args.threads, device="cpu", eval_every=args.eval_every,
                           checkpoint_every=max(args.epochs, 1), learning_rate=args.lr,
                           warmup_epochs=0.5)
    multi = MultiAnimalOptions(global_scale=args.global_scale)
    start = time.perf_counter()
    result = train_multi(project, options=options, multi=multi, overwrite=True)
    seconds = time.perf_counter() - start
    out = {"seconds": seconds, "epochs": args.epochs, "best_epoch": result.best_epoch,
           "best_test_error_px": result.best_test_error,
           "final_test_error_px": result.final_test_error,
           "options": options.model_dump(mode="json"), "multi": multi.model_dump(mode="json"),
           "history": [{k: float(v) for k, v in row.items()} for row in result.history]}
    (folder.path / "bench_train.json").write_text(json.dumps(out, indent=2))
    return out


def analyze_stage(project, args) -> dict:
    from posekit.predict.multi_analyze import (
        MultiAnalyzeOptions,
        analyze_video_multi,
        load_multi_predictor,
    )

    predictor = load_multi_predictor(project, device="cpu", engine="onnx",
                                     threads=args.threads)
    video = DATA / "clip.mp4"
    start = time.perf_counter()
    h5 = analyze_video_multi(predictor, video, options=MultiAnalyzeOptions(
        batch_size=4, save_slp=True, destination=project.root / "analysis"))
    seconds = time.perf_counter() - start
    return {"h5": str(h5), "seconds": seconds}


def _train_frames(project) -> set[int]:
    from posekit.data.splits import load_split

    split = load_split(project, 1)
    return {int(re.search(r"img(\d+)\.png$", image).group(1)) for image in split.train_images}


def report_stage(project, analysis: dict) -> dict:
    from posekit.evaluate.multi_metrics import multi_animal_rmse, oks_map
    from posekit.io.predictions import read_predictions

    bench = _tracking_module()
    truth, names, _ = bench.load_truth()
    reference, _, ref_names, _ = bench.load_reference()
    ours = read_predictions(analysis["h5"])
    order = [ours.bodyparts.index(n) for n in names]
    pred = ours.data[:, :, order]
    n = min(len(pred), len(truth))
    pred, truth = pred[:n], truth[:n]
    held = np.array(sorted(set(range(n)) - _train_frames(project)))
    lo, hi = np.nanmin(truth, axis=2), np.nanmax(truth, axis=2)
    areas = np.prod(hi - lo, axis=-1)
    sub = [names.index(b) for b in ref_names]

    def scores(p: np.ndarray, t: np.ndarray, bodyparts: list[str]) -> dict:
        whole = bench.score_tracks(p, t, areas, bodyparts)  # MOT over the whole clip
        rmse = multi_animal_rmse(p[held], t[held], bodyparts=bodyparts)
        maps = oks_map(p[held], t[held], areas=areas[held])
        out = {k: whole[k] for k in whole if k.endswith("px") and isinstance(whole[k], dict)}
        out.update({"identity_rmse_px_whole_clip": whole.get("identity_rmse_px"),
                    "heldout_rmse_px": rmse["rmse_px"],
                    "heldout_median_error_px": rmse["median_error_px"],
                    "heldout_per_bodypart_rmse_px": rmse["per_bodypart_rmse_px"],
                    "heldout_missed_animals": rmse["n_missed_animals"],
                    "heldout_truth_animals": rmse["n_truth_animals"],
                    "heldout_mAP": maps["mAP"], "heldout_AP50": maps["AP50"],
                    "heldout_AP75": maps["AP75"]})
        return out

    return {"n_frames": int(n), "n_heldout_frames": int(len(held)),
            "posekit_all_bodyparts": scores(pred, truth, names),
            "posekit_head_thorax": scores(pred[:, :, sub], truth[:, :, sub], ref_names),
            "reference_head_thorax": scores(reference[:n], truth[:, :, sub], ref_names),
            "reference_bodyparts": ref_names}


def _f(value, digits: int = 3) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def to_markdown(res: dict) -> str:
    tr, an, rep = res["train"], res["analyze"], res["report"]
    o = tr["options"]
    lines = ["# Multi-animal benchmark: two flies (tests/data/sleap/clip)", "",
             f"posekit {res['posekit_version']}, {res['machine']}, {res['date']}", "",
             f"Trained on {res['n_train_images']} labeled frames ({res['n_test_images']} test) "
             f"of {rep['n_frames']}: {o['backbone']} (ImageNet), output stride "
             f"{o['output_stride']}, frames scaled by {tr['multi']['global_scale']}, "
             f"{o['crop_size'][0]}x{o['crop_size'][1]} crops, batch {o['batch_size']}, "
             f"{tr['epochs']} epochs in {tr['seconds'] / 60:.1f} min on the CPU "
             f"(test error {_f(tr['final_test_error_px'], 1)} px). "
             f"Analysis of all {rep['n_frames']} frames (network, assembly, tracking): "
             f"{an['seconds'] / 60:.1f} min ({rep['n_frames'] / an['seconds']:.1f} frames/s).",
             "", f"Held-out frames (not trained on): {rep['n_heldout_frames']}. MOT over the "
             "whole clip, match threshold 30 px.", "",
             "| predictions | bodyparts | RMSE px | median px | mAP | AP50 | MOTA | IDF1 | "
             "ID switches | missed animals |", "|---" * 10 + "|"]
    for key, label, parts in (("posekit_all_bodyparts", "posekit", "13"),
                              ("posekit_head_thorax", "posekit", "head, thorax"),
                              ("reference_head_thorax", "reference (SLEAP)", "head, thorax")):
        s = rep[key]
        m = s["30px"]
        lines.append(f"| {label} | {parts} | {_f(s['heldout_rmse_px'], 1)} | "
                     f"{_f(s['heldout_median_error_px'], 1)} | {_f(s['heldout_mAP'])} | "
                     f"{_f(s['heldout_AP50'])} | {_f(m['mota'])} | {_f(m['idf1'])} | "
                     f"{m['id_switches']} | {s['heldout_missed_animals']}/"
                     f"{s['heldout_truth_animals']} |")
    lines += ["", "Identity switches at other thresholds (frames):", ""]
    for key in ("posekit_all_bodyparts", "reference_head_thorax"):
        for thr in ("20px", "50px"):
            m = rep[key][thr]
            lines.append(f"- {key} {thr}: MOTA {_f(m['mota'])}, IDF1 {_f(m['idf1'])}, "
                         f"{m['id_switches']} switches {m['switch_frames'][:8]}")
    per = rep["posekit_all_bodyparts"]["heldout_per_bodypart_rmse_px"]
    lines += ["", "posekit held-out RMSE per bodypart (px): "
              + ", ".join(f"{k} {_f(v, 1)}" for k, v in per.items()), ""]
    if res.get("note"):
        lines += [res["note"], ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/posekit-multi-animal-bench"))
    parser.add_argument("--stage", choices=["all", "prepare", "train", "analyze", "report"],
                        default="all")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--global-scale", type=float, default=0.5)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    from posekit import __version__
    from posekit.data.splits import load_split
    from posekit.io.atomic import write_text_atomic

    project = prepare(args.workdir, args.frames)
    state_path = args.workdir / "bench_state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    if args.stage in ("all", "train"):
        state["train"] = train_stage(project, args)
    if args.stage in ("all", "analyze"):
        state["analyze"] = analyze_stage(project, args)
    state_path.write_text(json.dumps(state, indent=2, default=str))
    if args.stage not in ("all", "report"):
        return
    split = load_split(project, 1)
    res = {"posekit_version": __version__,
           "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs",
           "date": time.strftime("%Y-%m-%d"), "n_train_images": len(split.train_images),
           "n_test_images": len(split.test_images), "train": state["train"],
           "analyze": state["analyze"], "report": report_stage(project, state["analyze"]),
           "note": args.note}
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_text_atomic(RESULTS / "multi_animal.json", json.dumps(res, indent=2, default=float))
    text = to_markdown(res)
    write_text_atomic(RESULTS / "multi_animal.md", text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
