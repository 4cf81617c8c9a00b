"""Active learning, simulated: does picking outlier frames beat picking frames at random?

The loop a user runs (analyze, extract outliers, refine, merge, retrain), simulated on the
116 human-labeled frames of the open-field data, whose labels stand in for the user:

1. A fixed test set (``--test`` frames) is drawn and never trained on. The other frames
   are the pool. ``--initial`` pool frames, drawn at random, train the first model.
2. Each round, every selection method picks ``--per-round`` frames of the pool that are
   not labeled yet: ``random``, or one of posekit's outlier methods (``uncertain``,
   ``jump``, ``fitting``) run on the current model's predictions for the unlabeled pool
   frames, candidates thinned to visually distinct frames by the same k-means as
   ``posekit extract-outliers``. When a method finds fewer candidates than asked, the rest
   is drawn at random (a user would label more frames anyway), and the table says how many
   the method found itself.
3. The picked frames are "refined" by revealing their human labels, and the model is
   retrained from the previous round's weights (as ``posekit train --init-from`` after
   ``posekit merge``) on everything labeled so far. Test error is measured after each
   round (last checkpoint: the best one is chosen on the test set, which would flatter it).

Caveat, honest and important: the labeled frames are spread over the video (neighbouring
images are tens of pixels of motion apart), not consecutive frames. ``jump`` and
``fitting`` look at the pool's predictions as a (coarsely sampled) trajectory in frame order,
which is a handicap compared with a real, dense analysis of a video.

Several seeds (different test sets, initial sets and random picks) show how much is noise.

Usage::

    .venv/bin/python benchmarks/active_learning.py                      # ~45 min on 2 cores
    .venv/bin/python benchmarks/active_learning.py --seeds 1 --rounds 1 # quick look

Writes benchmarks/results/active_learning.{json,md} after every training, so nothing is lost
if it is stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_project import copy_project

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
METHODS = ("random", "uncertain", "jump", "fitting")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO / "data" / "openfield-mouse")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--test", type=int, default=30, help="test frames (fixed per seed)")
    parser.add_argument("--initial", type=int, default=12, help="labeled frames to start")
    parser.add_argument("--per-round", type=int, default=10, help="frames added per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--samples", type=int, default=1600,
                        help="training samples (crops) seen by the first model")
    parser.add_argument("--finetune-samples", type=int, default=800,
                        help="training samples seen by each retraining")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--epsilon", type=float, default=20.0,
                        help="jump/fitting threshold in pixels (extract-outliers' default)")
    parser.add_argument("--p-bound", type=float, default=None,
                        help="uncertain: likelihood bound (the config's pcutoff by default)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--name", default="active_learning")
    args = parser.parse_args()

    rows: list[dict] = []
    started = time.strftime("%Y-%m-%d %H:%M")
    for seed in range(args.seeds):
        work = Path(tempfile.mkdtemp(prefix="posekit-active-"))
        try:
            _run_seed(args, seed, work, rows, started)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(_record(args, rows, started))


def _run_seed(args: argparse.Namespace, seed: int, work: Path, rows: list[dict],
              started: str) -> None:
    from posekit.project.labels import load_project_labels

    project, _ = copy_project(args.project, work / "project")
    images = sorted(load_project_labels(project).images)  # frame order
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    test = sorted(images[i] for i in order[:args.test])
    pool = sorted(images[i] for i in order[args.test:])
    initial = sorted(rng.choice(pool, args.initial, replace=False).tolist())
    p_bound = project.config.pcutoff if args.p_bound is None else args.p_bound
    trainer = _Trainer(project, test, args)

    first = trainer.train(initial, init_from=None, samples=args.samples)
    rows.append({"seed": seed, "method": "initial", "round": 0, "n_labeled": len(initial),
                 "n_found": None, **first})
    _record(args, rows, started)
    for method in args.methods:
        labeled, checkpoint, shuffle = list(initial), first["checkpoint"], first["shuffle"]
        picker = np.random.default_rng([seed, METHODS.index(method)])
        for round_ in range(1, args.rounds + 1):
            unlabeled = [image for image in pool if image not in set(labeled)]
            picked, found = _pick(method, trainer.predictor(shuffle), project, unlabeled,
                                  args.per_round, picker, epsilon=args.epsilon, p_bound=p_bound)
            labeled = sorted(labeled + picked)
            result = trainer.train(labeled, init_from=checkpoint, samples=args.finetune_samples)
            checkpoint, shuffle = result["checkpoint"], result["shuffle"]
            rows.append({"seed": seed, "method": method, "round": round_,
                         "n_labeled": len(labeled), "n_found": found, **result})
            print(f"seed {seed} {method} round {round_}: {rows[-1]}", file=sys.stderr,
                  flush=True)
            _record(args, rows, started)


class _Trainer:
    """Train and evaluate one model per labeled set, each in a new shuffle of the project."""

    def __init__(self, project, test: list[str], args: argparse.Namespace) -> None:
        self.project, self.test, self.args = project, test, args
        self.shuffle = 0

    def train(self, labeled: list[str], *, init_from: Path | None, samples: int) -> dict:
        from posekit.data.splits import create_dataset_from_images
        from posekit.evaluate.report import evaluate
        from posekit.train.loop import train
        from posekit.train.options import TrainOptions

        self.shuffle += 1
        create_dataset_from_images(self.project, labeled, self.test, shuffle=self.shuffle)
        epochs = max(2, math.ceil(samples / len(labeled)))
        options = TrainOptions(epochs=epochs, batch_size=8, crop_size=(self.args.crop,) * 2,
                               eval_every=max(1, epochs // 3), checkpoint_every=epochs,
                               init_from=init_from, threads=self.args.threads,
                               warmup_epochs=0.0 if init_from else 1.0)
        clock = time.perf_counter()
        result = train(self.project, shuffle=self.shuffle, options=options)
        seconds = time.perf_counter() - clock
        summary = evaluate(self.project, shuffle=self.shuffle, which="last", plot=False).summary
        return {"shuffle": self.shuffle, "epochs": epochs, "train_seconds": round(seconds, 1),
                "test_rmse_px": summary["test"]["rmse_px"],
                "test_error_px": summary["test"]["mean_error_px"],
                "test_pck5": summary["test"]["pck@5"],
                "checkpoint": result.folder.last}

    def predictor(self, shuffle: int):
        from posekit.predict.trained import load_predictor

        return load_predictor(self.project, shuffle=shuffle, which="last", engine="torch",
                              threads=self.args.threads)


def _pick(method: str, predictor, project, unlabeled: list[str], n: int,
          rng: np.random.Generator, *, epsilon: float, p_bound: float
          ) -> tuple[list[str], int | None]:
    """``n`` unlabeled images chosen by ``method``, and how many candidates it found."""
    if method == "random":
        return sorted(rng.choice(unlabeled, n, replace=False).tolist()), None
    from posekit.data.dataset import read_image_rgb
    from posekit.frames.select import cluster_representatives, thumbnail
    from posekit.io.predictions import Predictions
    from posekit.postprocess.outliers import OutlierOptions, find_outlier_frames

    frames = [read_image_rgb(project.root / image) for image in unlabeled]
    points = np.concatenate([predictor.predict(np.stack(frames[i:i + 8]))
                             for i in range(0, len(frames), 8)])
    pred = Predictions(data=points[:, None], bodyparts=list(predictor.bodyparts))
    options = OutlierOptions(epsilon=epsilon, p_bound=p_bound if method == "uncertain" else 0.01)
    candidates = find_outlier_frames(pred, method=method, options=options)  # type: ignore[arg-type]
    if len(candidates) > n:
        features = np.stack([thumbnail(frames[i]) for i in candidates])
        chosen = [int(candidates[i]) for i in cluster_representatives(features, n, seed=0)]
    else:
        rest = np.setdiff1d(np.arange(len(unlabeled)), candidates)
        extra = rng.choice(rest, n - len(candidates), replace=False)
        chosen = sorted(candidates.tolist() + extra.tolist())
    return sorted(unlabeled[i] for i in chosen), int(len(candidates))


def _record(args: argparse.Namespace, rows: list[dict], started: str) -> str:
    summary = _summary(rows)
    record = {"benchmark": args.name, "project": args.project.name,
              "options": {k: (str(v) if isinstance(v, Path) else v)
                          for k, v in vars(args).items()},
              "machine": {"cpu_threads": torch.get_num_threads(),
                          "load_average": os.getloadavg(), "python": platform.python_version(),
                          "torch": torch.__version__, "platform": platform.platform()},
              "started": started, "updated": time.strftime("%Y-%m-%d %H:%M"),
              "rows": [{k: (str(v) if isinstance(v, Path) else v) for k, v in r.items()
                        if k != "checkpoint"} for r in rows],
              "summary": summary}
    table = _table(rows, summary)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(record, indent=2, default=float))
    (RESULTS / f"{args.name}.md").write_text(_markdown(record, table))
    return table


def _summary(rows: list[dict]) -> list[dict]:
    """Mean test RMSE over seeds per (method, round), and its difference to random."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["round"]), []).append(row)
    out = []
    for (method, round_), members in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        random_rows = groups.get(("random", round_), [])
        mean = float(np.mean([r["test_rmse_px"] for r in members]))
        paired = [r["test_rmse_px"] - q["test_rmse_px"] for r in members for q in random_rows
                  if q["seed"] == r["seed"]]
        out.append({"method": method, "round": round_, "seeds": len(members),
                    "n_labeled": members[0]["n_labeled"], "mean_test_rmse_px": mean,
                    "mean_test_error_px": float(np.mean([r["test_error_px"] for r in members])),
                    "vs_random_px": float(np.mean(paired)) if paired and method != "random"
                    else None})
    return out


def _table(rows: list[dict], summary: list[dict]) -> str:
    lines = ["| round | labeled frames | method | seeds | test RMSE (px) | mean error (px) | "
             "RMSE minus random (px) |", "|" + "---|" * 7]
    for s in summary:
        delta = "" if s["vs_random_px"] is None else f"{s['vs_random_px']:+.2f}"
        lines.append(f"| {s['round']} | {s['n_labeled']} | {s['method']} | {s['seeds']} | "
                     f"{s['mean_test_rmse_px']:.2f} | {s['mean_test_error_px']:.2f} | {delta} |")
    lines += ["", "| seed | method | round | labeled | candidates found | test RMSE (px) | "
              "train s |", "|" + "---|" * 7]
    for r in rows:
        found = "" if r["n_found"] is None else str(r["n_found"])
        lines.append(f"| {r['seed']} | {r['method']} | {r['round']} | {r['n_labeled']} | "
                     f"{found} | {r['test_rmse_px']:.2f} | {r['train_seconds']:.0f} |")
    return "\n".join(lines)


def _markdown(record: dict, table: str) -> str:
    o = record["options"]
    return (f"# Active learning on the open-field data (simulated)\n\n"
            f"{o['seeds']} seeds; test set {o['test']} frames; start {o['initial']} random "
            f"frames, then {o['rounds']} rounds of {o['per_round']} frames per method; first "
            f"model {o['samples']} training crops, each retraining {o['finetune_samples']} "
            f"crops from the previous weights; crop {o['crop']}; epsilon {o['epsilon']} px. "
            f"Started {record['started']}, updated {record['updated']}; torch "
            f"{record['machine']['torch']}, "
            f"{o['threads'] or record['machine']['cpu_threads']} threads per training.\n\n"
            f"{table}\n\nTest error of the last checkpoint. 'candidates found': frames the "
            f"outlier method flagged among the unlabeled pool (the rest of the round's frames "
            f"were drawn at random). See the docstring of benchmarks/active_learning.py for "
            f"the caveat on jump/fitting with sparse frames.\n\n"
            f"Produced by `python benchmarks/active_learning.py`.\n")


if __name__ == "__main__":
    main()
