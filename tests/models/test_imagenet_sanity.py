"""The packaged weights really are ImageNet classifiers.

The pose model leaves the ImageNet classifier out; here it is put back by hand (global
average pooling of the stride-32 features, then the file's final linear layer) to classify
a natural photograph whose ImageNet class is well known: Grace Hopper in uniform ->
class 652, "military uniform" (the classic example of TensorFlow's image-labelling demo).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.models.backbones import build_backbone
from posekit.models.normalize import normalize_images
from posekit.models.weights import read_state_dict

MILITARY_UNIFORM = 652
CLASSIFIERS = {"mobilenet_v2": "classifier.1", "efficientnet_lite0": "_fc"}


def _class_probabilities(name: str, weight_file: Path, *, pretrained: bool,
                         image: np.ndarray) -> torch.Tensor:
    state = read_state_dict(weight_file)
    prefix = CLASSIFIERS[name]
    backbone = build_backbone(name, pretrained=pretrained).eval()
    with torch.no_grad():
        pooled = backbone(torch.from_numpy(normalize_images(image)))[32].mean(dim=(2, 3))
        logits = pooled @ state[f"{prefix}.weight"].T + state[f"{prefix}.bias"]
    return torch.softmax(logits, dim=1)[0]


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_lite0"])
def test_pretrained_backbone_recognises_the_photograph(name: str, grace_hopper_224: np.ndarray,
                                                       mobilenet_file: Path,
                                                       efficientnet_file: Path) -> None:
    weight_file = mobilenet_file if name == "mobilenet_v2" else efficientnet_file
    trained = _class_probabilities(name, weight_file, pretrained=True, image=grace_hopper_224)
    untrained = _class_probabilities(name, weight_file, pretrained=False,
                                     image=grace_hopper_224)
    assert int(trained.argmax()) == MILITARY_UNIFORM
    assert float(trained[MILITARY_UNIFORM]) > 0.25  # measured: 0.39 and 0.32
    assert float(untrained.max()) < 0.05  # random features: no confident class
    assert int(untrained.argmax()) != MILITARY_UNIFORM
