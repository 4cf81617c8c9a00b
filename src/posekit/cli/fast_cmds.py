"""Commands for fast inference: exporting a model, and running it live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posekit.cli.app import ProjectArg, app, friendly, out


@app.command()
@friendly
def export(
    project: ProjectArg,
    shuffle: Annotated[int, typer.Option(help="Which shuffle's model.")] = 1,
    which: Annotated[str, typer.Option(help="best or last checkpoint.")] = "best",
    format: Annotated[str, typer.Option("--format", help="Graph format: onnx.")] = "onnx",
    output: Annotated[Path | None, typer.Option(
        help="Folder to write (default <project>/exported-models/...).")] = None,
    precision: Annotated[str, typer.Option(
        help="float32, or int8 (1.7x the frames/s on a 2-core CPU; calibrated on the "
             "training images).")] = "float32",
) -> None:
    """Write a self-contained model folder (ONNX graph + model.json) usable without the project."""
    from posekit.predict.exported import export_model
    from posekit.predict.quantize import PRECISIONS

    if which not in ("best", "last"):
        raise typer.BadParameter(f"--which must be best or last, found {which!r}")
    if precision not in PRECISIONS:
        raise typer.BadParameter(f"--precision must be one of {', '.join(PRECISIONS)}, found "
                                 f"{precision!r}")
    folder = export_model(project, shuffle=shuffle, which=which,  # type: ignore[arg-type]
                          output=output, format=format,  # type: ignore[arg-type]
                          precision=precision)  # type: ignore[arg-type]
    out.print(f"Exported to {folder}")


@app.command()
@friendly
def live(
    model_dir: Annotated[Path, typer.Argument(help="Exported model folder (posekit export).")],
    source: Annotated[str, typer.Option(
        help="Camera index (0, 1 ...), stream URL or video file (played at its frame rate).")
    ] = "0",
    duration: Annotated[float | None, typer.Option(help="Seconds to run.")] = None,
    max_frames: Annotated[int | None, typer.Option(help="Frames to analyze.")] = None,
    downscale: Annotated[float, typer.Option(help="Resize frames by this factor first.")] = 1.0,
    crop: Annotated[tuple[int, int, int, int] | None, typer.Option(
        help="Analyze only x1 x2 y1 y2.")] = None,
    kalman: Annotated[bool, typer.Option(
        help="Forward-predict poses to the moment they are delivered.")] = False,
    threads: Annotated[int | None, typer.Option(help="Inference threads.")] = None,
    region: Annotated[str | None, typer.Option(
        help="Closed-loop demo: 'BODYPART X1 Y1 X2 Y2' logs when the bodypart enters it.")
    ] = None,
    save: Annotated[Path | None, typer.Option(help="Write every pose to this .csv.")] = None,
) -> None:
    """Pose estimation on a live stream, always on the newest frame, with latency statistics."""
    import json

    from posekit.live import LiveSession, PoseLog, RegionTrigger
    from posekit.predict.exported import load_exported
    from posekit.predict.transform import WindowedPredictor

    predictor = load_exported(model_dir, threads=threads)
    if crop is not None or downscale != 1.0:
        predictor = WindowedPredictor(predictor, crop=crop, downscale=downscale)
    session = LiveSession(predictor, source, kalman=kalman)
    if region is not None:
        session.add_processor(_region_trigger(region, RegionTrigger,
                                              float(getattr(predictor, "pcutoff", 0.6))))
    log = session.add_processor(PoseLog()) if save is not None else None
    report = session.run(duration=duration, max_frames=max_frames)
    if log is not None and save is not None:
        out.print(f"Wrote {log.save_csv(save)}")  # type: ignore[attr-defined]
    out.print(json.dumps(report.as_dict(), indent=2))


def _region_trigger(text: str, trigger_class: type, pcutoff: float) -> object:
    parts = text.split()
    try:
        bodypart, box = parts[0], [float(v) for v in parts[1:]]
    except (IndexError, ValueError):
        box, bodypart = [], ""
    if len(box) != 4:
        raise typer.BadParameter(f"--region must be 'BODYPART X1 Y1 X2 Y2', found {text!r}")

    def announce(event: object) -> None:
        out.print(f"frame {event.index}: {bodypart} entered the region")  # type: ignore[attr-defined]

    return trigger_class(bodypart, box, on_enter=announce, pcutoff=pcutoff)
