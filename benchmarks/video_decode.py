"""Video decoding speed: sequential and random access, posekit's reader against raw OpenCV.

Usage::

    python benchmarks/video_decode.py [--video PATH] [--random 100] [--out benchmarks/results]

Measures, on one video (default: the open-field demo video, h264 640x480, 2330 frames):

- sequential: ``for i, frame in VideoReader`` (RGB frames), raw ``cv2.VideoCapture.read``
  (BGR, no checks) and raw ``grab`` (decode only, no colour conversion);
- random access: ``VideoReader.read`` at random indices (verified, exact) against raw
  ``set(CAP_PROP_POS_FRAMES) + read`` (unverified);
- ``read_many`` of random indices (sorted internally) and k-means frame selection.

Each case runs ``--repeat`` times (default 2) and the best time is kept.

Prints a table and writes ``video_decode.json`` and ``video_decode.md`` to ``--out``.
Timings depend on the machine and its load; the machine is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from posekit.frames import select_frames
from posekit.io.video import VideoReader, read_video_metadata

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = REPO / "data" / "openfield-mouse" / "videos" / "m3v1mp4.mp4"


def timed(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Run ``run`` (which returns a frame count) ``repeat`` times; return the best
    (seconds, frames)."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        frames = run()
        best = min(best, time.perf_counter() - start)
    return best, frames


def sequential_reader(video: Path) -> int:
    with VideoReader(video) as reader:
        return sum(1 for _ in reader)


def sequential_raw(video: Path, *, decode_only: bool) -> int:
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    count = 0
    while cap.grab() if decode_only else cap.read()[0]:
        count += 1
    cap.release()
    return count


def random_reader(video: Path, indices: list[int]) -> int:
    with VideoReader(video) as reader:
        for index in indices:
            reader.read(index)
    return len(indices)


def random_raw(video: Path, indices: list[int]) -> int:
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    for index in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        cap.read()
    cap.release()
    return len(indices)


def read_many(video: Path, indices: list[int]) -> int:
    with VideoReader(video) as reader:
        return len(reader.read_many(indices))


def kmeans(video: Path, n: int) -> int:
    with VideoReader(video) as reader:
        return len(select_frames(reader, n, algo="kmeans", seed=0))


def measure(video: Path, n_random: int, repeat: int) -> list[dict]:
    n_frames = read_video_metadata(video).n_frames
    rng = random.Random(0)
    scattered = [rng.randrange(n_frames) for _ in range(n_random)]
    many = rng.sample(range(n_frames), min(4 * n_random, n_frames))
    cases: list[tuple[str, str, Callable[[], int]]] = [
        ("sequential", "VideoReader iteration (RGB)", lambda: sequential_reader(video)),
        ("sequential", "raw cv2 read (BGR)", lambda: sequential_raw(video, decode_only=False)),
        ("sequential", "raw cv2 grab (decode only)", lambda: sequential_raw(video,
                                                                           decode_only=True)),
        ("random", f"VideoReader.read, {n_random} random indices (exact)",
         lambda: random_reader(video, scattered)),
        ("random", f"raw cv2 seek + read, {n_random} random indices (unverified)",
         lambda: random_raw(video, scattered)),
        ("random", f"VideoReader.read_many, {len(many)} random indices",
         lambda: read_many(video, many)),
        ("selection", "select_frames kmeans n=20, 1000 candidates", lambda: kmeans(video, 20)),
    ]
    rows = []
    for kind, name, run in cases:
        seconds, frames = timed(run, repeat)
        rows.append({"kind": kind, "case": name, "frames": frames, "seconds": round(seconds, 3),
                     "frames_per_s": round(frames / seconds, 1)})
        sys.stdout.write(f"  {name}: {seconds:.2f} s\n")
    return rows


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "opencv": cv2.__version__, "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def table(rows: list[dict]) -> str:
    lines = ["| kind | case | frames | seconds | frames/s |", "| --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {r['kind']} | {r['case']} | {r['frames']} | {r['seconds']:.2f} | "
              f"{r['frames_per_s']:.1f} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--random", type=int, default=100, help="random reads to time")
    parser.add_argument("--repeat", type=int, default=2, help="runs per case; best is kept")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    meta = read_video_metadata(args.video)
    video_info = {"path": str(args.video.relative_to(REPO) if args.video.is_relative_to(REPO)
                              else args.video), "codec": meta.codec, "fps": meta.fps,
                  "n_frames": meta.n_frames, "width": meta.width, "height": meta.height}
    sys.stdout.write(f"Decoding {args.video} ({meta.width}x{meta.height}, {meta.codec}, "
                     f"{meta.n_frames} frames)\n")
    rows = measure(args.video, args.random, args.repeat)
    result = {"benchmark": "video_decode", "video": video_info, "machine": machine(),
              "repeat": args.repeat, "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "video_decode.json").write_text(json.dumps(result, indent=2) + "\n")
    text = (f"# Video decoding speed\n\nVideo: `{video_info['path']}` ({meta.width}x{meta.height}, "
            f"{meta.codec}, {meta.n_frames} frames at {meta.fps:.2f} fps).\n\nMachine: "
            f"{json.dumps(result['machine'])}\n\nBest of {args.repeat} runs per case.\n\n"
            f"{table(rows)}\n\nProduced by "
            f"`python benchmarks/video_decode.py`.\n")
    (args.out / "video_decode.md").write_text(text)
    sys.stdout.write("\n" + table(rows) + "\n")


if __name__ == "__main__":
    main()
