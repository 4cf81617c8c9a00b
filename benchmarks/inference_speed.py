"""Inference speed: posekit's engine (ONNX Runtime, PyTorch) against DeepLabCut 3.0.2, side by side.

Usage::

    .venv/bin/python benchmarks/inference_speed.py                 # everything (~30 min)
    .venv/bin/python benchmarks/inference_speed.py --skip-dlc      # posekit only
    .venv/bin/python benchmarks/inference_speed.py --accuracy-project /tmp/.../project

What it measures, on the open-field video (640x480 h264, 2330 frames) and on one machine:

- posekit's default model (mobilenet_v2, 4 bodyparts, stride 8; random weights unless
  ``--project`` names a trained project -- speed does not depend on the weights) through
  the engine behind ``posekit analyze`` (background decoding, auto batch size): ONNX Runtime
  at full resolution and with ``--downscale``, in float32 and in int8 (``--precision
  int8``, calibrated here on 32 frames of the video), and eager PyTorch;
- decoding alone through the same engine (a predictor that does nothing): the ceiling;
- where the time goes (waiting for frames, normalization, network, peak decoding);
- the levers one by one: ORT graph optimization level, intra-op threads, thread spinning,
  fixed batch sizes; for PyTorch channels-last and glibc's allocator
  (:func:`posekit.runtime.tune_allocator`);
- DeepLabCut 3.0.2 in its own virtual environment (``--dlc-venv``, created with
  ``pip install torch==2.13.0 deeplabcut==3.0.2`` when missing): a copy of the open-field
  project, ``create_training_dataset`` for resnet_50 and cspnext_s, a randomly initialized
  snapshot, then ``deeplabcut.analyze_videos`` timed as a whole (model loading included);
  run with HF_HUB_OFFLINE=1.

Every case runs in a fresh process (thread pools and allocator settings do not leak). Long
cases run on the first ``--lever-frames`` frames only, eager PyTorch on the first
``--eager-frames`` (cut from the video without re-encoding); the frame count of each row
is in the table. With ``--accuracy-project`` the test error of the plain, downscaled and
int8 paths is measured on that project's test images.

Writes benchmarks/results/inference_speed.{json,md}. Timings depend on the machine and its
load; the load average before and after is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
VIDEO = REPO / "data" / "openfield-mouse" / "videos" / "m3v1mp4.mp4"
BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]


# Run by DeepLabCut's venv: copy the open-field project, make a shuffle for one net type, save
# a randomly initialized snapshot, time deeplabcut.analyze_videos; print one JSON line.
DLC_RUNNER = r"""
import json, shutil, sys, time
from pathlib import Path

job = json.loads(sys.argv[1])
import torch
torch.set_num_threads(job["threads"])
import deeplabcut
from deeplabcut.core.engine import Engine
from deeplabcut.utils import auxiliaryfunctions
from deeplabcut.pose_estimation_pytorch.config import read_config_as_dict
from deeplabcut.pose_estimation_pytorch.models import PoseModel

work = Path(job["work"])
shutil.rmtree(work, ignore_errors=True)
project = work / "project"
shutil.copytree(job["project"], project)
config_path = project / "config.yaml"
cfg = auxiliaryfunctions.read_config(str(config_path))
cfg["project_path"] = str(project)
cfg["engine"] = "pytorch"
cfg["video_sets"] = {str(project / "videos" / "m4s1.mp4"): {"crop": "0, 640, 0, 480"}}
auxiliaryfunctions.write_config(str(config_path), cfg)
deeplabcut.create_training_dataset(str(config_path), num_shuffles=1, net_type=job["net_type"],
                                   engine=Engine.PYTORCH)
train_dir = next(p for p in (project / "dlc-models-pytorch").rglob("train") if p.is_dir())
model_cfg = read_config_as_dict(train_dir / "pytorch_config.yaml")
torch.manual_seed(0)
model = PoseModel.build(model_cfg["model"])
torch.save({"model": model.state_dict(), "metadata": {"epoch": 1}}, train_dir / "snapshot-001.pt")
started, cpu_started = time.perf_counter(), time.process_time()
(work / "out").mkdir()
deeplabcut.analyze_videos(str(config_path), [job["video"]], shuffle=1, destfolder=str(work / "out"),
                          batch_size=job["batch_size"], device="cpu", save_as_csv=False)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
import cv2
frames = int(cv2.VideoCapture(job["video"]).get(cv2.CAP_PROP_FRAME_COUNT))
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "frames": frames,
                  "version": deeplabcut.__version__, "torch": torch.__version__}))
"""


# -- one case, in its own process ---------------------------------------------------------------
def run_case(case: dict) -> dict:
    """Time one configuration of posekit's engine; returns a row of the table."""
    if case.get("tune_allocator"):
        from posekit.runtime import tune_allocator

        tune_allocator()
    import torch

    from posekit.io.video import VideoReader
    from posekit.predict.engine import InferenceOptions, predict_video

    torch.set_num_threads(case.get("threads") or 2)
    load_before = os.getloadavg()[0]
    predictor = _predictor(case)
    options = InferenceOptions(batch_size=case.get("batch", "auto"),
                               downscale=case.get("downscale", 1.0))
    with VideoReader(case["video"]) as reader:
        _warm_up(predictor, reader, options)
        started, cpu_started = time.perf_counter(), time.process_time()
        points, stats = predict_video(predictor, reader, options=options)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    row = {"case": case["name"], "load_1min_before": round(load_before, 2),
           "frames": len(points), "seconds": round(seconds, 2),
           "fps": round(len(points) / seconds, 1), "batch": stats.batch_size,
           "cpu_ms_per_frame": round(1000 * cpu / len(points), 1),
           "waiting_s": round(stats.seconds_waiting, 2),
           "predicting_s": round(stats.seconds_predicting, 2),
           "tuning_ms_per_frame": {k: round(v * 1000, 2) for k, v in stats.tuning.items()}}
    timings = getattr(predictor, "timings", None)
    if timings:
        row["inside_predictor_s"] = {k: round(v, 2) for k, v in timings.items()}
    return row


def _warm_up(predictor, reader, options) -> None:
    from posekit.predict.transform import apply_window, full_window

    frame = reader.read(0)[None]
    window = full_window((frame.shape[2], frame.shape[1]), downscale=options.downscale)
    predictor.predict(apply_window(frame, window))
    for key in getattr(predictor, "timings", {}):
        predictor.timings[key] = 0.0  # count the timed run only


def _predictor(case: dict):
    from posekit.predict.onnx_engine import OnnxPredictor

    if case["engine"] == "decode":
        return _Nothing()
    config, model = _model(case.get("project"))
    if case["engine"] == "onnx":
        graph = case["onnx_int8"] if case.get("precision") == "int8" else case["onnx"]
        return OnnxPredictor(Path(graph), config=config, bodyparts=BODYPARTS,
                             scorer="bench", model_info={}, threads=case.get("threads"),
                             spinning=case.get("spinning"),
                             optimization=case.get("optimization", "all"))
    return _Eager(model, channels_last=case.get("channels_last", True))


def _model(project: str | None):
    import torch

    from posekit.models import ModelConfig, build_model

    if project:
        from posekit.predict.trained import load_trained
        from posekit.project import open_project
        from posekit.train.folder import trained_model_folder

        opened = open_project(project)
        trained = load_trained(opened, trained_model_folder(opened, 1))
        return trained.config, trained.model
    torch.manual_seed(0)
    config = ModelConfig(n_bodyparts=len(BODYPARTS), pretrained=False)
    return config, build_model(config).eval()


class _Nothing:
    """Decoding alone: the engine with a predictor that costs nothing."""

    def predict(self, frames):
        import numpy as np

        return np.zeros((len(frames), len(BODYPARTS), 3))


class _Eager:
    """Eager PyTorch, with or without channels-last (posekit's TorchPredictor always uses it)."""

    def __init__(self, model, *, channels_last: bool) -> None:
        import torch

        self.format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.eval().to(memory_format=self.format)
        self.timings = {"normalize": 0.0, "network": 0.0, "decode": 0.0}

    def predict(self, frames):
        import numpy as np
        import torch

        from posekit.models.normalize import normalize_images
        from posekit.predict.decode import decode_outputs
        from posekit.predict.onnx_engine import pad_frames

        t0 = time.perf_counter()
        images = torch.from_numpy(normalize_images(pad_frames(frames))).contiguous(
            memory_format=self.format)
        t1 = time.perf_counter()
        with torch.inference_mode():
            outputs = self.model(images)
        t2 = time.perf_counter()
        points = decode_outputs(outputs, self.model.config).numpy().astype(np.float64)
        t3 = time.perf_counter()
        for key, value in zip(self.timings, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            self.timings[key] += value
        return points


# -- orchestration ------------------------------------------------------------------------------
def cut_clip(video: Path, frames: int, folder: Path) -> Path:
    """The first ``frames`` frames of ``video``, stream-copied (same codec, no re-encoding)."""
    import imageio_ffmpeg

    clip = folder / f"{video.stem}_first{frames}.mp4"
    if not clip.exists():
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i",
                        str(video), "-map", "0:v", "-c", "copy", "-frames:v", str(frames),
                        str(clip)], check=True)
    return clip


def in_subprocess(case: dict, env: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          cwd=REPO)
    if proc.returncode != 0:
        return {"case": case["name"], "error": proc.stderr.strip().splitlines()[-1:]}
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {row['case']}: {row['fps']} frames/s ({row['frames']} frames)", flush=True)
    return row


def posekit_cases(video: Path, clip: Path, short: Path, onnx: dict[str, Path],
                  project: str | None) -> list[dict]:
    """Every posekit configuration: full video, ``clip`` for the levers, ``short`` for the
    slow eager PyTorch cases."""
    base = {"onnx": str(onnx["float32"]), "onnx_int8": str(onnx["int8"]), "project": project,
            "threads": 2}
    full = {**base, "video": str(video)}
    part = {**base, "video": str(clip)}
    eager = {**base, "video": str(short), "engine": "torch"}
    int8 = {**full, "engine": "onnx", "precision": "int8"}
    return [
        {**full, "name": "decoding alone (ceiling), full res", "engine": "decode"},
        {**full, "name": "decoding alone (ceiling), downscale 0.5", "engine": "decode",
         "downscale": 0.5},
        {**full, "name": "posekit ONNX, full res (default)", "engine": "onnx"},
        {**full, "name": "posekit ONNX, downscale 0.5", "engine": "onnx", "downscale": 0.5},
        {**int8, "name": "posekit ONNX int8, full res"},
        {**int8, "name": "posekit ONNX int8, downscale 0.5", "downscale": 0.5},
        {**int8, "name": "posekit ONNX int8, downscale 0.5, batch 16", "downscale": 0.5,
         "batch": 16},
        {**int8, "name": "posekit ONNX int8, downscale 0.5, batch 4", "downscale": 0.5,
         "batch": 4},
        {**int8, "name": "posekit ONNX int8, downscale 0.75", "downscale": 0.75},
        {**part, "name": "posekit ONNX, full res, threads spinning", "engine": "onnx",
         "spinning": True},
        {**part, "name": "posekit ONNX, full res, batch 1", "engine": "onnx", "batch": 1},
        {**part, "name": "posekit ONNX, full res, batch 8", "engine": "onnx", "batch": 8},
        {**part, "name": "posekit ONNX, full res, 1 thread", "engine": "onnx", "threads": 1},
        {**part, "name": "posekit ONNX, full res, graph opt basic", "engine": "onnx",
         "optimization": "basic"},
        {**part, "name": "posekit ONNX, full res, graph opt none", "engine": "onnx",
         "optimization": "none"},
        {**part, "name": "posekit ONNX, full res (default), same clip", "engine": "onnx"},
        {**eager, "name": "posekit PyTorch eager, contiguous, default allocator",
         "channels_last": False, "batch": 8},
        {**eager, "name": "posekit PyTorch eager, channels-last, default allocator",
         "batch": 8},
        {**eager, "name": "posekit PyTorch eager, channels-last, tuned allocator",
         "batch": 8, "tune_allocator": True},
        {**eager, "name": "posekit PyTorch eager (auto batch, tuned: the --engine torch path)",
         "tune_allocator": True},
    ]


def export_model(folder: Path, project: str | None, video: Path) -> dict[str, Path]:
    """The float32 graph, and its int8 copy calibrated on 32 frames spread over ``video``."""
    from posekit.models.export import export_onnx
    from posekit.predict.quantize import quantize_onnx, video_calibration_frames

    _, model = _model(project)
    graph = export_onnx(model, folder / "bench.onnx", input_size=(480, 640))
    return {"float32": graph, "int8": quantize_onnx(graph, folder / "bench.int8.onnx",
                                                    video_calibration_frames(video))}


def dlc_rows(args: argparse.Namespace, work: Path) -> list[dict]:
    """DeepLabCut 3.0.2 in its own venv; rows or the reason it could not run."""
    python = args.dlc_venv / "bin" / "python"
    if not python.exists():
        print(f"creating {args.dlc_venv} (pip install deeplabcut==3.0.2) ...", flush=True)
        steps = [[sys.executable, "-m", "venv", str(args.dlc_venv)],
                 [str(python), "-m", "pip", "install", "-q", "torch==2.13.0"],
                 [str(python), "-m", "pip", "install", "-q", "deeplabcut==3.0.2"]]
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True)
            if proc.returncode != 0:
                return [{"case": "DeepLabCut 3.0.2", "error": f"{' '.join(step[-2:])} failed: "
                         f"{proc.stderr.strip().splitlines()[-3:]}"}]
    rows = []
    for net, frames, env_name, env in args.dlc_cases:
        clip = cut_clip(args.video, frames, work) if frames else args.video
        job = {"project": str(REPO / "data" / "openfield-mouse"), "video": str(clip),
               "net_type": net, "batch_size": args.dlc_batch, "work": str(work / f"dlc-{net}"),
               "threads": 2}
        script = work / "dlc_speed_runner.py"
        script.write_text(DLC_RUNNER)
        proc = subprocess.run([str(python), str(script), json.dumps(job)],
                              capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
        load_before = os.getloadavg()[0]
        name = f"DeepLabCut 3.0.2 {net}{env_name}"
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            rows.append({"case": name, "error": (proc.stderr or proc.stdout).strip()
                         .splitlines()[-5:]})
            print(f"  {name}: failed", flush=True)
            continue
        if "error" in result:
            rows.append({"case": name, **result})
            continue
        rows.append({"case": name, "load_1min_before": round(load_before, 2),
                     "frames": result["frames"],
                     "seconds": round(result["seconds"], 2),
                     "fps": round(result["frames"] / result["seconds"], 2),
                     "batch": args.dlc_batch, "dlc_version": result.get("version"),
                     "dlc_torch": result.get("torch"),
                     "cpu_ms_per_frame": round(1000 * result["cpu_seconds"] / result["frames"],
                                               1)})
        print(f"  {name}: {rows[-1]['fps']} frames/s", flush=True)
    return rows


def accuracy_rows(project_path: Path) -> list[dict]:
    """Error of the plain PyTorch path, ONNX float32 and int8, with and without downscaling,
    on the test and train images of each trained shuffle."""
    import cv2
    import numpy as np

    from posekit.data.splits import list_shuffles, load_split, split_labels
    from posekit.errors import PosekitError
    from posekit.evaluate.metrics import keypoint_metrics
    from posekit.predict.trained import load_predictor
    from posekit.predict.transform import WindowedPredictor
    from posekit.project import open_project

    project = open_project(project_path)
    rows = []
    for number in list_shuffles(project):
        try:
            torch_model = load_predictor(project, shuffle=number, which="last", engine="torch",
                                         device="cpu")
        except PosekitError as error:  # not trained (yet)
            print(f"  shuffle {number} skipped: {error}", flush=True)
            continue
        train, test = split_labels(project, load_split(project, number))
        onnx_model = load_predictor(project, shuffle=number, which="last", engine="onnx",
                                    device="cpu")
        int8_model = load_predictor(project, shuffle=number, which="last", engine="onnx",
                                    device="cpu", precision="int8")
        paths = {"PyTorch, full res (plain path)": torch_model,
                 "ONNX, full res": onnx_model,
                 "ONNX, downscale 0.75": WindowedPredictor(onnx_model, downscale=0.75),
                 "ONNX, downscale 0.5": WindowedPredictor(onnx_model, downscale=0.5),
                 "ONNX int8, full res": int8_model,
                 "ONNX int8, downscale 0.75": WindowedPredictor(int8_model, downscale=0.75),
                 "ONNX int8, downscale 0.5": WindowedPredictor(int8_model, downscale=0.5)}
        for subset, labels in (("test", test), ("train", train)):
            images = [cv2.cvtColor(cv2.imread(str(project.root / image)), cv2.COLOR_BGR2RGB)
                      for image in labels.images]
            for name, predictor in paths.items():
                predicted = np.concatenate([predictor.predict(image[None]) for image in images])
                metrics = keypoint_metrics(predicted, labels.points[:, 0],
                                           pcutoff=project.config.pcutoff)
                rows.append({"shuffle": number, "set": subset, "path": name,
                             "n_images": len(images),
                             "error_px": round(metrics["mean_error_px"], 2),
                             "rmse_px": round(metrics["rmse_px"], 2),
                             "pck@5": round(metrics["pck@5"], 3)})
                print(f"  shuffle {number}, {subset}, {name}: {rows[-1]['error_px']} px",
                      flush=True)
    return rows


def machine() -> dict:
    import onnxruntime
    import torch

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "load_average_before": [round(v, 2) for v in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def table(rows: list[dict]) -> str:
    lines = ["| case | load | frames | seconds | frames/s | CPU ms/frame | batch | waiting for "
             "frames s | in predictor s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case']} | | | | failed: {r['error']} | | | | |")
            continue
        inside = ", ".join(f"{k} {v}" for k, v in r.get("inside_predictor_s", {}).items())
        lines.append(f"| {r['case']} | {r.get('load_1min_before', '')} | {r['frames']} | "
                     f"{r['seconds']:.2f} | {r['fps']:.1f} | "
                     f"{r.get('cpu_ms_per_frame', '')} | {r['batch']} | "
                     f"{r.get('waiting_s', '')} | {r.get('predicting_s', '')}"
                     f"{' (' + inside + ')' if inside else ''} |")
    return "\n".join(lines)


def ratios(rows: list[dict]) -> list[str]:
    by = {r["case"]: r for r in rows if "fps" in r}
    out = []
    dlc = [r for r in rows if r["case"].startswith("DeepLabCut") and "fps" in r]
    for ours in ("posekit ONNX, full res (default)", "posekit ONNX int8, full res",
                 "posekit ONNX, downscale 0.5", "posekit ONNX int8, downscale 0.5"):
        if ours not in by:
            continue
        for other in dlc:
            out.append(f"{ours} / {other['case']}: {by[ours]['fps'] / other['fps']:.1f}x")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--project", help="trained posekit project (default: random weights)")
    parser.add_argument("--lever-frames", type=int, default=600)
    parser.add_argument("--eager-frames", type=int, default=300,
                        help="frames of the (slow) eager PyTorch cases")
    parser.add_argument("--skip-dlc", action="store_true")
    parser.add_argument("--skip-posekit", action="store_true")
    parser.add_argument("--dlc-venv", type=Path, default=Path("/tmp/dlc-venv"))
    parser.add_argument("--dlc-batch", type=int, default=8)
    parser.add_argument("--dlc-frames", type=int, default=300,
                        help="frames DeepLabCut's resnet_50 analyzes (0: all)")
    parser.add_argument("--dlc-fast-frames", type=int, default=0,
                        help="frames DeepLabCut's cspnext_s analyzes (0: all)")
    parser.add_argument("--accuracy-project", type=Path,
                        help="trained project: test error of the plain and downscaled paths")
    parser.add_argument("--only", help="run only posekit cases whose name contains this")
    parser.add_argument("--name", default="inference_speed")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    args.dlc_cases = [("resnet_50", args.dlc_frames, "", {}),
                      ("resnet_50", args.dlc_frames, ", tuned allocator",
                       {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}),
                      ("cspnext_s", args.dlc_fast_frames, "", {})]
    record = {"benchmark": args.name, "video": str(args.video.relative_to(REPO))
              if args.video.is_relative_to(REPO) else str(args.video),
              "machine": machine(), "weights": args.project or "random initialization"}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="posekit-speed-") as tmp:
        work = Path(tmp)
        clip = cut_clip(args.video, args.lever_frames, work)
        if not args.skip_posekit:
            onnx = export_model(work, args.project, args.video)
            short = cut_clip(args.video, args.eager_frames, work)
            for case in posekit_cases(args.video, clip, short, onnx, args.project):
                if args.only and args.only not in case["name"]:
                    continue
                rows.append(in_subprocess(case))
                if case["name"].endswith("full res (default)") and args.dlc_frames:
                    dlc_clip = cut_clip(args.video, args.dlc_frames, work)
                    rows.append(in_subprocess({**case, "video": str(dlc_clip), "name":
                                               f"posekit ONNX, full res, DeepLabCut's "
                                               f"{args.dlc_frames}-frame clip"}))
        if not args.skip_dlc:
            rows += dlc_rows(args, work)
    record["rows"] = rows
    record["ratios"] = ratios(rows)
    record["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    if rows:
        write(record, args.name)
    if args.accuracy_project:
        write_accuracy(accuracy_rows(args.accuracy_project), args.accuracy_project)


def write_accuracy(rows: list[dict], project: Path) -> None:
    """benchmarks/results/inference_accuracy.{json,md}: test error of each inference path."""
    record = {"benchmark": "inference_accuracy", "project": str(project),
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "rows": rows}
    (RESULTS / "inference_accuracy.json").write_text(json.dumps(record, indent=2))
    text = ["# Test error of each inference path\n",
            f"Same trained model (last checkpoint of each shuffle), same images, "
            f"{record['date']}; project `{project}`, trained as "
            "`benchmarks/openfield_accuracy.py` does (default model, 30 epochs, symmetric "
            "ear pair). Error is the "
            "mean Euclidean distance to the labels over labeled test keypoints (DeepLabCut's "
            "'RMSE'); RMSE is the root mean square of the same distances. Train images show "
            "how much each path departs from the plain one on many more frames.\n",
            "| shuffle | set | path | images | error px | RMSE px | PCK@5 |",
            "| ---: | --- | --- | ---: | ---: | ---: | ---: |"]
    text += [f"| {r['shuffle']} | {r['set']} | {r['path']} | {r['n_images']} | "
             f"{r['error_px']} | {r['rmse_px']} | {r['pck@5']} |" for r in rows]
    text += ["", "Produced by `python benchmarks/inference_speed.py --skip-posekit --skip-dlc "
             "--accuracy-project PROJECT`."]
    (RESULTS / "inference_accuracy.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))


def write(record: dict, name: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2))
    m = record["machine"]
    text = ["# Inference speed\n",
            f"Video `{record['video']}`; weights: {record['weights']}; {m['cpus']} CPUs, "
            f"torch {m['torch']}, onnxruntime {m['onnxruntime']}, {m['date']}; load average "
            f"before {m['load_average_before']}, after {m['load_average_after']}.\n",
            "frames/s is wall-clock throughput of the whole path (decoding included; for "
            "DeepLabCut the whole `analyze_videos` call, model loading included). CPU ms/frame "
            "is the process's CPU time (all threads) per frame: less sensitive to other load "
            "on the machine than frames/s. load: the 1-minute load average when the case "
            "started.\n",
            table(record["rows"]), ""]
    if record["ratios"]:
        text += ["Ratios (frames/s):", ""] + [f"- {r}" for r in record["ratios"]] + [""]
    text += ["Test error of each path: see inference_accuracy.md.", ""]
    text.append("Produced by `python benchmarks/inference_speed.py`.")
    (RESULTS / f"{name}.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
