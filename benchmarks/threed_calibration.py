"""Accuracy of posekit's 3D calibration and triangulation on the real data sets.

Data: ``../shared/data`` beside the checkout (override with ``POSEKIT_SHARED_DATA``):

* ``stereo-checkerboard``: each camera calibrated from its 14 checkerboard images; focal
  length must be within 1 % and principal point within 3 px of the Caltech toolbox
  reference (``Calib_Results_{left,right}.mat``; MATLAB pixels are 1-based, so 1 is
  subtracted from ``cc``).
* ``mouse-4cam-charuco``: the four cameras calibrated from their 21 ChArUco images (median
  board reprojection error must be < 1.5 px per camera); the session's four 2D tracks
  (SLEAP ``*.analysis.h5``) triangulated with the new calibration (reprojection error per
  camera); the reference ``calibration.toml`` (whose ``side`` camera is a copy of ``top``)
  checked against the board corners and the keypoints (``side`` must be flagged).

Run: ``python benchmarks/threed_calibration.py``. Prints a table and writes
``benchmarks/results/threed_calibration.json`` and ``.md``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from posekit import __version__
from posekit.threed.boards import Board, read_board
from posekit.threed.calibfile import Calibration, read_calibration
from posekit.threed.calibration import CalibrationOptions, calibrate
from posekit.threed.check import CheckOptions, check_calibration
from posekit.threed.triangulation import TriangulateOptions, triangulate

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
MOUSE_CAMERAS = ["back", "mid", "side", "top"]


def shared_data() -> Path:
    """The shared data folder (``POSEKIT_SHARED_DATA`` or ``../shared/data``)."""
    root = Path(os.environ.get("POSEKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not root.is_dir():
        sys.exit(f"shared data not found at {root}; set POSEKIT_SHARED_DATA")
    return root


def stereo(root: Path, workdir: Path) -> dict:
    """Per-camera intrinsics vs the Caltech toolbox reference."""
    import scipy.io

    folder = root / "stereo-checkerboard"
    board = Board("checkerboard", 10, 7, 30.0)  # 9 x 6 inner corners, 30 mm squares
    start = time.perf_counter()
    result = calibrate(folder, board, cameras=["left", "right"],
                       output=workdir / "stereo.toml")
    seconds = time.perf_counter() - start
    rows = []
    for report, cam in zip(result.cameras, result.calibration.cameras, strict=True):
        ref = scipy.io.loadmat(folder / f"Calib_Results_{cam.name}.mat")
        fc, cc = ref["fc"].ravel(), ref["cc"].ravel() - 1.0
        f = np.array([cam.matrix[0, 0], cam.matrix[1, 1]])
        c = np.array([cam.matrix[0, 2], cam.matrix[1, 2]])
        f_err = np.abs(f - fc) / fc * 100
        c_err = np.abs(c - cc)
        rows.append({
            "camera": cam.name, "boards": report.n_detected, "frames": report.n_frames,
            "fx": f[0], "fy": f[1], "fx_ref": fc[0], "fy_ref": fc[1],
            "cx": c[0], "cy": c[1], "cx_ref": cc[0], "cy_ref": cc[1],
            "focal_error_pct": float(f_err.max()), "principal_error_px": float(c_err.max()),
            "intrinsics_rms_px": report.intrinsics_rms,
            "stereo_median_px": report.median_error,
            "pass": bool(f_err.max() < 1.0 and c_err.max() < 3.0),
        })
    baseline = float(np.linalg.norm(result.calibration.cameras[1].translation))
    return {"cameras": rows, "baseline_mm": baseline, "seconds": seconds}


def _relative(calib: Calibration, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    ca, cb = calib.camera(a), calib.camera(b)
    rot = cb.rotation_matrix @ ca.rotation_matrix.T
    return rot, cb.translation - rot @ ca.translation


def _pose_agreement(new: Calibration, ref: Calibration) -> list[dict]:
    """Relative poses of the reference's sound cameras compared with the new ones."""
    out = []
    for a, b in [("back", "mid"), ("back", "top"), ("mid", "top")]:
        r1, t1 = _relative(new, a, b)
        r2, t2 = _relative(ref, a, b)
        angle = np.degrees(np.arccos(np.clip((np.trace(r1.T @ r2) - 1) / 2, -1, 1)))
        out.append({"pair": f"{a}-{b}", "rotation_diff_deg": float(angle),
                    "baseline_mm": float(np.linalg.norm(t1)),
                    "baseline_ref_mm": float(np.linalg.norm(t2))})
    return out


def mouse(root: Path, workdir: Path) -> dict:
    """Calibration, triangulation and calibration check on the 4-camera mouse session."""
    session = root / "mouse-4cam-charuco" / "minimal_session"
    board = read_board(session / "board.toml")
    start = time.perf_counter()
    result = calibrate(session, board, cameras=MOUSE_CAMERAS, output=workdir / "mouse.toml",
                       options=CalibrationOptions(media="images"))
    calib_seconds = time.perf_counter() - start
    calib_rows = [{"camera": r.name, "images": r.n_frames, "boards": r.n_detected,
                   "views_used": r.n_views_used, "intrinsics_rms_px": r.intrinsics_rms,
                   "median_px": r.median_error, "mean_px": r.mean_error,
                   "p95_px": r.p95_error, "pass": bool(r.median_error < 1.5)}
                  for r in result.cameras]
    views = {c: session / c / f"minimal_{c}_proofread.analysis.h5" for c in MOUSE_CAMERAS}
    triangulation = {}
    for pcutoff in (0.6, 0.0):
        start = time.perf_counter()
        points = triangulate(result.path, views, output=workdir / f"points3d_{pcutoff}.h5",
                             options=TriangulateOptions(pcutoff=pcutoff))
        triangulation[str(pcutoff)] = {
            "seconds": time.perf_counter() - start,
            "points_triangulated_pct": float(np.isfinite(points.data).all(-1).mean() * 100),
            "cameras": points.camera_summary(),
        }
    ref_path = session / "calibration.toml"
    ref = read_calibration(ref_path)
    _, corners = result.views.as_points(board.n_corners)  # type: ignore[union-attr]
    checks = {
        "reference_board_corners": check_calibration(ref_path, corners),
        "reference_keypoints": check_calibration(ref_path, views,
                                                 options=CheckOptions(pcutoff=0.0)),
        "new_board_corners": check_calibration(result.path, corners),
        "new_keypoints": check_calibration(result.path, views, options=CheckOptions(pcutoff=0.0)),
    }
    check_rows = {name: {"flagged": chk.flagged,
                         "cameras": {c.name: {"median_px": c.median_px, "n_points": c.n_points}
                                     for c in chk.cameras}}
                  for name, chk in checks.items()}
    return {"calibration": calib_rows, "calibration_seconds": calib_seconds,
            "pose_vs_reference": _pose_agreement(result.calibration, ref),
            "triangulation": triangulation, "checks": check_rows,
            "defect_flagged": checks["reference_board_corners"].flagged == ["side"]
            and checks["reference_keypoints"].flagged == ["side"]}


def _fmt(value: float) -> str:
    return f"{value:.2f}" if isinstance(value, float) and np.isfinite(value) else str(value)


def to_markdown(res: dict) -> str:
    """The results as a Markdown report."""
    lines = ["# 3D calibration and triangulation benchmark", "",
             f"posekit {res['posekit_version']}, {res['machine']}, {res['date']}", "",
             "## stereo-checkerboard: intrinsics vs Caltech toolbox reference", "",
             "| camera | boards | fx | fx ref | fy | fy ref | cx | cx ref | cy | cy ref | "
             "focal err % | pp err px | pass |", "|" + "---|" * 13]
    for r in res["stereo"]["cameras"]:
        lines.append("| " + " | ".join(_fmt(r[k]) for k in (
            "camera", "boards", "fx", "fx_ref", "fy", "fy_ref", "cx", "cx_ref", "cy", "cy_ref",
            "focal_error_pct", "principal_error_px", "pass")) + " |")
    m = res["mouse"]
    lines += ["", f"Stereo baseline {res['stereo']['baseline_mm']:.1f} mm; calibration took "
              f"{res['stereo']['seconds']:.1f} s.", "",
              "## mouse-4cam-charuco: calibration from 21 ChArUco images per camera", "",
              "| camera | boards | views used | intrinsics rms px | median px | mean px | "
              "p95 px | pass (< 1.5) |", "|" + "---|" * 8]
    for r in m["calibration"]:
        lines.append("| " + " | ".join(_fmt(r[k]) for k in (
            "camera", "boards", "views_used", "intrinsics_rms_px", "median_px", "mean_px",
            "p95_px", "pass")) + " |")
    lines += ["", f"Calibration (detection included) took {m['calibration_seconds']:.1f} s.", "",
              "Relative poses vs the reference calibration (its back, mid, top are sound):", "",
              "| pair | rotation diff deg | baseline mm | reference baseline mm |",
              "|---|---|---|---|"]
    for r in m["pose_vs_reference"]:
        lines.append(f"| {r['pair']} | {r['rotation_diff_deg']:.2f} | {r['baseline_mm']:.1f} | "
                     f"{r['baseline_ref_mm']:.1f} |")
    lines += ["", "## Triangulation of the session's 2D tracks with the new calibration", "",
              "| p-cutoff | camera | points used | median px | mean px | p95 px |",
              "|---|---|---|---|---|---|"]
    for pc, t in m["triangulation"].items():
        for cam, s in t["cameras"].items():
            lines.append(f"| {pc} | {cam} | {s['n_points']} | {_fmt(s['median_px'])} | "
                         f"{_fmt(s['mean_px'])} | {_fmt(s['p95_px'])} |")
    lines += ["", "## check-calibration (held-out median error, px)", "",
              "| input | " + " | ".join(MOUSE_CAMERAS) + " | flagged |",
              "|" + "---|" * (len(MOUSE_CAMERAS) + 2)]
    for name, chk in m["checks"].items():
        cells = [_fmt(chk["cameras"][c]["median_px"]) for c in MOUSE_CAMERAS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {chk['flagged']} |")
    lines += ["", f"Defective reference camera 'side' flagged: {m['defect_flagged']}", ""]
    return "\n".join(lines)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    root = shared_data()
    with tempfile.TemporaryDirectory() as tmp:
        res = {
            "posekit_version": __version__,
            "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs",
            "date": time.strftime("%Y-%m-%d"),
            "stereo": stereo(root, Path(tmp)),
            "mouse": mouse(root, Path(tmp)),
        }
    res["all_pass"] = bool(all(r["pass"] for r in res["stereo"]["cameras"])
                           and all(r["pass"] for r in res["mouse"]["calibration"])
                           and res["mouse"]["defect_flagged"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "threed_calibration.json").write_text(json.dumps(res, indent=2, default=float))
    report = to_markdown(res) + f"\nAll criteria met: {res['all_pass']}\n"
    (RESULTS / "threed_calibration.md").write_text(report)
    sys.stdout.write(report)


if __name__ == "__main__":
    main()
