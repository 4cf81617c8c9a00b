"""Export a PoseModel to ONNX, and open an exported graph with ONNX Runtime.

The graph has one input ``images`` (float32 ``(B, 3, H, W)``, normalized by
:func:`posekit.models.normalize.normalize_images`) and two outputs ``heatmaps``
``(B, K, h, w)`` and ``locref`` ``(B, 2K, h, w)``, exactly as :meth:`PoseModel.forward`.
Batch size is dynamic; height and width are dynamic too unless ``dynamic_size=False``.
The graph's metadata (``metadata_props``) records what a reader needs to decode it:
``posekit_version``, ``model_config`` (JSON), ``output_stride``, ``locref_stdev``,
``n_bodyparts``, ``input_mean``, ``input_std`` (JSON lists, RGB) and ``input_size``.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from posekit.errors import MissingFileError, ModelError
from posekit.io.atomic import write_bytes_atomic
from posekit.models.normalize import IMAGENET_MEAN, IMAGENET_STD
from posekit.models.pose_model import PoseModel

logger = logging.getLogger(__name__)

#: ONNX opset used for export (supported by onnxruntime >= 1.14).
ONNX_OPSET = 17
INPUT_NAME = "images"
OUTPUT_NAMES = ("heatmaps", "locref")


class _TupleOutputs(nn.Module):
    """A PoseModel's network without its Python input checks, returning a tuple to trace."""

    def __init__(self, model: PoseModel) -> None:
        super().__init__()
        self.backbone = model.backbone
        self.head = model.head

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.backbone(images))


def export_onnx(
    model: PoseModel,
    path: str | Path,
    *,
    input_size: tuple[int, int],
    dynamic_size: bool = True,
    extra_metadata: dict[str, str] | None = None,
) -> Path:
    """Write ``model`` as an ONNX graph to ``path`` (atomically).

    Parameters
    ----------
    model : PoseModel
        Exported in inference mode (batch norm uses its running statistics) from a CPU copy;
        the model itself is left as it was (mode, device).
    path : str or Path
        The ``.onnx`` file to write.
    input_size : (H, W)
        Image size used to trace the graph (and the only size allowed when
        ``dynamic_size=False``).
    dynamic_size : bool
        Let height and width vary (batch size always does).
    extra_metadata : dict of str to str, optional
        More entries for the graph's ``metadata_props`` (e.g. bodypart names as JSON).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ModelError
        If ``model`` is not a PoseModel or ``input_size`` is not two positive integers.
    """
    if not isinstance(model, PoseModel):
        raise ModelError(f"export_onnx expects a PoseModel, got {type(model).__name__}.")
    height, width = _check_size(input_size)
    wrapper = _TupleOutputs(copy.deepcopy(model)).cpu().eval()  # the caller's model untouched
    dummy = torch.zeros(1, 3, height, width)
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_size else {0: "batch"}
    out_axes = {0: "batch", 2: "out_height", 3: "out_width"} if dynamic_size else {0: "batch"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the torch.export one, which
        # needs the onnxscript package; it still works and its warnings only confuse users.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapper, (dummy,), buffer, dynamo=False, opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
            dynamic_axes={INPUT_NAME: axes, **{name: out_axes for name in OUTPUT_NAMES}},
            do_constant_folding=True,
        )
    data = _with_metadata(buffer.getvalue(), model, (height, width), extra_metadata or {})
    write_bytes_atomic(path, data)
    logger.info("exported %s pose model to %s", model.config.backbone, path)
    return Path(path)


def _with_metadata(data: bytes, model: PoseModel, input_size: tuple[int, int],
                   extra: dict[str, str]) -> bytes:
    import onnx

    from posekit._version import __version__

    graph = onnx.load_from_string(data)
    entries = {
        "posekit_version": str(__version__),
        "model_config": model.config.model_dump_json(),
        "output_stride": str(model.output_stride),
        "locref_stdev": repr(model.config.locref_stdev),
        "n_bodyparts": str(model.config.n_bodyparts),
        "input_mean": json.dumps(list(IMAGENET_MEAN)),
        "input_std": json.dumps(list(IMAGENET_STD)),
        "input_size": json.dumps(list(input_size)),
        **{str(k): str(v) for k, v in extra.items()},
    }
    onnx.helper.set_model_props(graph, entries)
    return graph.SerializeToString()


def onnx_session(path: str | Path, *, num_threads: int | None = None):  # -> InferenceSession
    """Open an exported graph with ONNX Runtime on the CPU, all graph optimizations on.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    num_threads : int or None
        Threads for one operator (``intra_op_num_threads``); None lets ONNX Runtime choose.

    Returns
    -------
    onnxruntime.InferenceSession

    Raises
    ------
    MissingFileError
        If ``path`` does not exist.
    ModelError
        If ONNX Runtime cannot load it.
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"ONNX model {path} does not exist; export one with "
                               "posekit.models.export_onnx.")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if num_threads is not None:
        options.intra_op_num_threads = int(num_threads)
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for bad graphs
        raise ModelError(f"ONNX model {path} cannot be loaded ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); export it again."
                         ) from exc


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """Read the ``metadata_props`` that :func:`export_onnx` wrote (see the module docs).

    Raises
    ------
    MissingFileError
        If ``path`` does not exist.
    ModelError
        If it is not an ONNX file.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"ONNX model {path} does not exist.")
    try:
        graph = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors have no common public base class
        raise ModelError(f"ONNX model {path} cannot be read ({type(exc).__name__}); "
                         "export it again.") from exc
    return {prop.key: prop.value for prop in graph.metadata_props}


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ModelError(f"input_size must be (height, width), got {size!r}.") from None
    if height < 1 or width < 1 or tuple(size) != (height, width):
        raise ModelError(f"input_size must be two positive integers, got {size!r}.")
    return height, width
