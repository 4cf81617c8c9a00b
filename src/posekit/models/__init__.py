"""posekit.models: backbones with pretrained weights, the pose head, the loss, ONNX export.

Typical use::

    from posekit.models import ModelConfig, build_model, normalize_images, pose_loss

    model = build_model(ModelConfig(n_bodyparts=4))          # mobilenet_v2, stride 8
    outputs = model(torch.from_numpy(normalize_images(rgb_uint8_frames)))
    # outputs["heatmaps"]: (B, K, ceil(H/8), ceil(W/8)) logits
    # outputs["locref"]:   (B, 2K, ceil(H/8), ceil(W/8)), channels x0, y0, x1, y1, ...
    targets = encode_batch(keypoints, (H, W), model.target_config())  # posekit.data.targets
    loss = pose_loss(outputs, targets).total
"""

from posekit.models.backbones import (
    DEFAULT_BACKBONE,
    Backbone,
    BackboneSpec,
    build_backbone,
    get_backbone_spec,
    list_backbones,
    register_backbone,
)
from posekit.models.config import DEFAULT_LOCREF_STDEV, ModelConfig
from posekit.models.export import export_onnx, onnx_metadata, onnx_session
from posekit.models.loss import DEFAULT_LOCREF_WEIGHT, PoseLoss, pose_loss
from posekit.models.normalize import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    denormalize_images,
    normalize_images,
)
from posekit.models.pose_model import PoseModel, build_model

__all__ = [
    "DEFAULT_BACKBONE",
    "DEFAULT_LOCREF_STDEV",
    "DEFAULT_LOCREF_WEIGHT",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Backbone",
    "BackboneSpec",
    "ModelConfig",
    "PoseLoss",
    "PoseModel",
    "build_backbone",
    "build_model",
    "denormalize_images",
    "export_onnx",
    "get_backbone_spec",
    "list_backbones",
    "normalize_images",
    "onnx_metadata",
    "onnx_session",
    "pose_loss",
    "register_backbone",
]
