"""A training process killed with SIGKILL resumes to the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import torch

from posekit.train.checkpoint import load_checkpoint
from posekit.train.loop import train

SCRIPT = """
import sys
from posekit.project import open_project
from posekit.train.loop import train
from posekit.train.options import TrainOptions
options = TrainOptions.model_validate_json(sys.argv[2])
train(open_project(sys.argv[1]), options=options, resume=sys.argv[3] == "resume")
"""


def test_kill_9_then_resume_matches_uninterrupted(tiny_project, quick_options) -> None:
    options = quick_options(epochs=3)
    reference = train(tiny_project, options=options)
    expected = load_checkpoint(reference.folder.last)["model"]
    for path in reference.folder.checkpoints.glob("*.pt"):
        path.unlink()

    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tiny_project.root),
                                options.model_dump_json(), "fresh"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = reference.folder.snapshot(1)
    deadline = time.monotonic() + 240
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert load_checkpoint(reference.folder.last)["epoch"] < 3

    resumed = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_project.root),
                              options.model_dump_json(), "resume"], capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    final = load_checkpoint(reference.folder.last)
    assert final["epoch"] == 3
    for key, value in expected.items():
        assert torch.equal(value, final["model"][key]), key
