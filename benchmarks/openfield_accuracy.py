"""Accuracy benchmark: train posekit's default model on a DeepLabCut project, report test error.

By default the open-field data carried in data/openfield-mouse (116 labeled frames, 4
bodyparts): train fraction 0.95, three shuffles, the default model (mobilenet_v2, ImageNet
weights), each trained for ``--minutes`` of wall time or ``--epochs`` epochs. Prints a table
and writes benchmarks/results/openfield_accuracy.{json,md}.

Pass ``--project PATH`` to run the same on any labeled DeepLabCut/posekit project (it is
copied; the original is never changed).

Usage::

    .venv/bin/python benchmarks/openfield_accuracy.py --epochs 60 --shuffles 3
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO / "data" / "openfield-mouse")
    parser.add_argument("--shuffles", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--backbone", default="mobilenet_v2")
    parser.add_argument("--fraction", type=float, default=0.95)
    parser.add_argument("--name", default="openfield_accuracy")
    parser.add_argument("--threads", type=int, default=None,
                        help="PyTorch threads (all cores by default; 1 is more robust when "
                             "other work shares the cores)")
    parser.add_argument("--keep-results", action="store_true",
                        help="keep shuffles already recorded with the same options and run "
                             "only the missing ones")
    args = parser.parse_args()

    from posekit.data.splits import create_dataset
    from posekit.evaluate.report import evaluate
    from posekit.train.loop import train
    from posekit.train.options import TrainOptions

    work = Path(tempfile.mkdtemp(prefix="posekit-accuracy-"))
    project, pairs = copy_project(args.project, work / "project")
    create_dataset(project, shuffles=args.shuffles, train_fraction=args.fraction)
    options = TrainOptions(epochs=args.epochs, batch_size=args.batch_size,
                           crop_size=(args.crop, args.crop), backbone=args.backbone,
                           threads=args.threads)
    rows = _kept_rows(args, options) if args.keep_results else []
    done = {row["shuffle"] for row in rows}
    for shuffle in range(1, args.shuffles + 1):
        if shuffle in done:
            continue
        started = time.perf_counter()
        result = train(project, shuffle=shuffle, options=options)
        seconds = time.perf_counter() - started
        best = evaluate(project, shuffle=shuffle, which="best", plot=False).summary
        last = evaluate(project, shuffle=shuffle, which="last", plot=False).summary
        rows.append({"shuffle": shuffle, "train_seconds": round(seconds, 1),
                     "best_epoch": result.best_epoch,
                     "test_error_best_px": best["test"]["mean_error_px"],
                     "test_rmse_best_px": best["test"]["rmse_px"],
                     "test_error_last_px": last["test"]["mean_error_px"],
                     "test_rmse_last_px": last["test"]["rmse_px"],
                     "train_error_last_px": last["train"]["mean_error_px"],
                     "test_pck5_last": last["test"]["pck@5"],
                     "n_test_images": last["test"]["n_images"],
                     "threads": options.threads or torch.get_num_threads()})
        print(f"shuffle {shuffle}: {rows[-1]}", file=sys.stderr, flush=True)
        table = _record(args, options, pairs, rows)  # after every shuffle: nothing is lost
    print(table)
    shutil.rmtree(work, ignore_errors=True)


def _kept_rows(args: argparse.Namespace, options: object) -> list[dict]:
    """Rows of an earlier run with the same training options (threads aside)."""
    path = RESULTS / f"{args.name}.json"
    if not path.is_file():
        return []
    earlier = json.loads(path.read_text())
    same = {k: v for k, v in earlier["options"].items() if k != "threads"} == \
        {k: v for k, v in options.model_dump(mode="json").items() if k != "threads"}  # type: ignore[attr-defined]
    return earlier["shuffles"] if same else []


def _record(args: argparse.Namespace, options: object, pairs: list, rows: list[dict]) -> str:
    summary = _summary(rows)
    record = {"benchmark": args.name, "project": str(args.project.name),
              "options": options.model_dump(mode="json"),  # type: ignore[attr-defined]
              "symmetric_pairs": pairs, "shuffles_planned": args.shuffles,
              "machine": {"cpu_threads": torch.get_num_threads(),
                          "load_average": os.getloadavg(), "python": platform.python_version(),
                          "torch": torch.__version__, "platform": platform.platform()},
              "date": time.strftime("%Y-%m-%d %H:%M"), "shuffles": rows, "summary": summary}
    table = _table(rows, summary)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(record, indent=2, default=float))
    (RESULTS / f"{args.name}.md").write_text(_markdown(record, table))
    return table


def _summary(rows: list[dict]) -> dict:
    keys = ("test_error_last_px", "test_rmse_last_px", "test_error_best_px", "test_rmse_best_px",
            "train_error_last_px", "test_pck5_last", "train_seconds")
    return {f"mean_{k}": float(np.mean([r[k] for r in rows])) for k in keys}


def _table(rows: list[dict], summary: dict) -> str:
    head = ("| shuffle | train min | test error last (px) | test RMSE last (px) | "
            "test error best (px) | train error (px) | PCK@5 test |")
    lines = [head, "|" + "---|" * 7]
    for r in rows:
        lines.append(f"| {r['shuffle']} | {r['train_seconds'] / 60:.1f} | "
                     f"{r['test_error_last_px']:.2f} | {r['test_rmse_last_px']:.2f} | "
                     f"{r['test_error_best_px']:.2f} (epoch {r['best_epoch']}) | "
                     f"{r['train_error_last_px']:.2f} | {r['test_pck5_last']:.2f} |")
    s = summary
    lines.append(f"| mean | {s['mean_train_seconds'] / 60:.1f} | {s['mean_test_error_last_px']:.2f}"
                 f" | {s['mean_test_rmse_last_px']:.2f} | {s['mean_test_error_best_px']:.2f} | "
                 f"{s['mean_train_error_last_px']:.2f} | {s['mean_test_pck5_last']:.2f} |")
    return "\n".join(lines)


def _markdown(record: dict, table: str) -> str:
    opts = record["options"]
    return (f"# {record['benchmark']}\n\n"
            f"{record['date']}, {record['machine']['cpu_threads']} CPU threads, torch "
            f"{record['machine']['torch']}. Project `{record['project']}`, "
            f"{opts['backbone']}, {opts['epochs']} epochs, batch {opts['batch_size']}, crops "
            f"{opts['crop_size']}, symmetric pairs {record['symmetric_pairs']}; "
            f"{len(record['shuffles'])} of {record['shuffles_planned']} shuffles done; load "
            f"average at the end {record['machine']['load_average'][0]:.1f} (other work shared "
            f"the 2 cores, so times are upper bounds).\n\n"
            "\"Test error\" is the mean Euclidean distance between prediction and label over the "
            "labeled test keypoints (what DeepLabCut reports as RMSE); \"RMSE\" is the root mean "
            "square of the same distances. \"Last\" is the final epoch's checkpoint (an unbiased "
            "test number); \"best\" is the checkpoint chosen by the same test images, so it is "
            "optimistic.\n\n" + table + "\n")


if __name__ == "__main__":
    main()
