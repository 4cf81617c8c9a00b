"""Int8 networks for the CPU: ONNX Runtime static quantization, calibrated on real frames.

On a CPU without a GPU the network is most of the cost of analyzing video. Storing weights
and activations as 8-bit integers (``QuantizeLinear``/``DequantizeLinear`` pairs around each
convolution, weights per output channel, activations per tensor) lets ONNX Runtime run the
convolutions with integer kernels. For the default mobilenet_v2 model on 2 cores at 640x480
the network time fell 1.8x and the whole analysis went from 17.5 to 30.6 frames/s
(``benchmarks/results/inference_speed.md``).

The activation ranges are calibrated by running the float graph on real frames: the
project's training images (the frames the network was trained for), each at its own size.
``benchmarks/inference_speed.py --accuracy-project`` reports the test error of the int8
graph beside the float one.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from posekit.errors import ModelError
from posekit.models.export import INPUT_NAME

logger = logging.getLogger(__name__)

Precision = Literal["float32", "int8"]
PRECISIONS: tuple[str, ...] = ("float32", "int8")
#: Frames a caller should calibrate on (more adds time, not accuracy).
MAX_CALIBRATION_FRAMES = 32


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`, else raise ModelError."""
    if precision not in PRECISIONS:
        raise ModelError(f"precision must be one of {', '.join(PRECISIONS)}, found "
                         f"{precision!r}.")
    return precision


def quantize_onnx(source: Path, target: Path, frames: Sequence[np.ndarray]) -> Path:
    """Write an int8 (QDQ) copy of the float graph ``source``, calibrated on ``frames``.

    Parameters
    ----------
    source : Path
        A graph written by :func:`posekit.models.export.export_onnx`.
    target : Path
        The int8 graph to write (atomically: a temporary file renamed at the end). The
        metadata of ``source`` (bodyparts, stride, ...) is kept.
    frames : sequence of (H, W, 3) uint8 arrays
        RGB calibration frames (sizes may differ), all used: pass about
        :data:`MAX_CALIBRATION_FRAMES`, spread over the data.

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    ModelError
        If ``frames`` is empty.
    """
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(frames) == 0:
        raise ModelError("int8 quantization needs calibration frames (the project's labeled "
                         "images); none were found. Label frames, or use precision float32.")
    target = Path(target)
    work = Path(tempfile.mkdtemp(prefix=".quantize-", dir=target.parent))
    try:
        prepared = work / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        staged = work / "int8.onnx"
        quantize_static(str(prepared), str(staged), _Calibration(frames),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        graph = onnx.load(str(staged))
        _copy_metadata(onnx.load(str(source), load_external_data=False), graph,
                       extra={"precision": "int8", "calibration_frames": str(len(frames))})
        onnx.save(graph, str(staged))
        staged.replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("quantized %s to int8 (%d calibration frames)", Path(source).name, len(frames))
    return target


def video_calibration_frames(video: str | Path,
                             count: int = MAX_CALIBRATION_FRAMES) -> list[np.ndarray]:
    """``count`` RGB ``(H, W, 3)`` frames spread over ``video``, first and last included, to
    calibrate a graph for that kind of footage when no labeled images are at hand."""
    from posekit.frames.select import evenly
    from posekit.io.video import VideoReader

    with VideoReader(video) as reader:
        return reader.read_many(evenly(np.arange(reader.n_frames), count).tolist())


def cached_int8(float_onnx: Path, frames: Sequence[np.ndarray]) -> Path:
    """The int8 graph of ``float_onnx``, made once and kept beside it (``<name>.int8.onnx``).

    Re-made when the float graph is newer.
    """
    target = float_onnx.with_suffix(".int8.onnx")
    if not target.is_file() or target.stat().st_mtime < float_onnx.stat().st_mtime:
        quantize_onnx(float_onnx, target, frames)
    return target


class _Calibration:
    """Feeds frames, one per run, to ONNX Runtime's calibrator."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self._frames: Iterator[np.ndarray] = iter(frames)

    def get_next(self) -> dict[str, np.ndarray] | None:
        from posekit.predict.onnx_engine import normalize_padded

        frame = next(self._frames, None)
        return None if frame is None else {INPUT_NAME: normalize_padded(frame[None])}


def _copy_metadata(source, target, *, extra: dict[str, str]) -> None:  # onnx.ModelProto
    import onnx

    entries = {prop.key: prop.value for prop in source.metadata_props}
    entries.update(extra)
    del target.metadata_props[:]
    onnx.helper.set_model_props(target, entries)
