"""Live latency: the open-field video played as a 30 fps camera, analyzed on the newest frame.

Usage::

    .venv/bin/python benchmarks/live_latency.py [--seconds 60] [--downscale 1.0 0.5]
        [--precision float32 int8]

posekit's default model (mobilenet_v2, random weights unless ``--project`` names a trained
project: latency does not depend on the weights) is exported to ONNX (float32, and int8
calibrated on 32 frames of the video) and run by
:class:`posekit.live.session.LiveSession` on ``data/openfield-mouse/videos/m3v1mp4.mp4``
played at its native frame rate (a capture thread releases each frame when it is due). For
each setting it reports the capture-to-pose latency percentiles (p50, p95, p99), the time
the predictor took per frame, frames captured, analyzed and dropped (a newer frame had
arrived before the previous one was analyzed), and how many frames the decoder delivered
late. Writes benchmarks/results/live_latency.{json,md}; the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
VIDEO = REPO / "data" / "openfield-mouse" / "videos" / "m3v1mp4.mp4"
BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]


def predictor(onnx: Path, config, downscale: float, threads: int):
    from posekit.predict.onnx_engine import OnnxPredictor
    from posekit.predict.transform import WindowedPredictor

    base = OnnxPredictor(onnx, config=config, bodyparts=BODYPARTS, scorer="live-bench",
                         model_info={}, threads=threads)
    return base if downscale == 1.0 else WindowedPredictor(base, downscale=downscale)


def model(project: str | None):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--downscale", type=float, nargs="+", default=[1.0, 0.5])
    parser.add_argument("--precision", nargs="+", default=["float32", "int8"],
                        choices=["float32", "int8"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kalman", action="store_true", help="also forward-predict poses")
    parser.add_argument("--project", help="trained posekit project (default: random weights)")
    args = parser.parse_args()

    from posekit.live import LiveSession
    from posekit.models.export import export_onnx
    from posekit.predict.quantize import quantize_onnx, video_calibration_frames

    rows = []
    load_before = [round(v, 2) for v in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="posekit-live-") as tmp:
        config, net = model(args.project)
        graphs = {"float32": export_onnx(net, Path(tmp) / "live.onnx", input_size=(480, 640))}
        if "int8" in args.precision:
            graphs["int8"] = quantize_onnx(graphs["float32"], Path(tmp) / "live.int8.onnx",
                                           video_calibration_frames(args.video))
        for precision, downscale in [(p, d) for p in args.precision for d in args.downscale]:
            session = LiveSession(predictor(graphs[precision], config, downscale, args.threads),
                                  args.video, kalman=args.kalman)
            report = session.run(duration=args.seconds)
            row = {"precision": precision, "downscale": downscale, "kalman": args.kalman,
                   **report.as_dict()}
            rows.append(row)
            print(json.dumps(row), flush=True)
    record = {"benchmark": "live_latency", "video": str(args.video.name),
              "seconds_per_setting": args.seconds, "threads": args.threads,
              "weights": args.project or "random initialization",
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "python": platform.python_version(),
                          "load_average_before": load_before,
                          "load_average_after": [round(v, 2) for v in os.getloadavg()],
                          "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")},
              "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "live_latency.json").write_text(json.dumps(record, indent=2))
    lines = ["# Live latency\n",
             f"`{record['video']}` played at its native frame rate as a camera, "
             f"{args.seconds:g} s per setting, ONNX Runtime with {args.threads} threads, "
             f"weights: {record['weights']}; {record['machine']['cpus']} CPUs, "
             f"{record['machine']['date']}, load average before "
             f"{record['machine']['load_average_before']}, after "
             f"{record['machine']['load_average_after']}.\n",
             "| precision | downscale | source fps | captured | analyzed | dropped | late | "
             "analyzed fps | "
             "latency p50 ms | p95 ms | p99 ms | max ms | predictor p50 ms |",
             "| --- |" + " ---: |" * 12]
    for r in rows:
        lat = r["latency_ms"]
        lines.append(f"| {r['precision']} | {r['downscale']} | {r['source_fps']:.1f} | "
                     f"{r['n_captured']} | "
                     f"{r['n_analyzed']} | {r['n_dropped']} | {r['n_late']} | "
                     f"{r['analyzed_fps']} | {lat['p50']} | {lat['p95']} | {lat['p99']} | "
                     f"{lat['max']} | {r['processing_ms']['p50']} |")
    lines += ["", "Latency runs from the moment a frame is due in the video's timeline (its "
              "capture) to the moment its pose is known. Produced by "
              "`python benchmarks/live_latency.py`."]
    (RESULTS / "live_latency.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
