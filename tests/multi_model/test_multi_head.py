"""The bottom-up network: output shapes, loss, ONNX export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from posekit.data.multi_targets import MultiPoseTargets, encode_multi_targets
from posekit.errors import ModelError
from posekit.models import ModelConfig
from posekit.models.export import onnx_metadata, onnx_session
from posekit.models.multi_head import (
    MultiModelConfig,
    MultiPoseModel,
    build_multi_model,
    export_multi_onnx,
    multi_pose_loss,
)

EDGES = [(0, 1), (1, 2)]


@pytest.fixture(scope="module")
def model() -> MultiPoseModel:
    torch.manual_seed(0)
    return build_multi_model(MultiModelConfig(n_bodyparts=3, n_edges=2, pretrained=False,
                                              head_channels=16, head_blocks=1, paf_blocks=1))


def _targets(model: MultiPoseModel, size=(64, 96), batch: int = 2) -> MultiPoseTargets:
    animals = np.array([[[10.0, 10.0], [30.0, 12.0], [50.0, 20.0]],
                        [[60.0, 50.0], [40.0, 40.0], [np.nan, np.nan]]])
    one = encode_multi_targets(animals, size, model.target_config(), EDGES)
    return MultiPoseTargets(*(torch.from_numpy(np.stack([f] * batch)) for f in one))


@pytest.mark.parametrize("stride", [4, 8, 16])
def test_outputs_have_one_field_pair_per_edge(stride: int) -> None:
    net = build_multi_model(MultiModelConfig(n_bodyparts=3, n_edges=2, output_stride=stride,
                                             pretrained=False, head_channels=16))
    out = net.eval()(torch.zeros(2, 3, 64, 96))
    h, w = net.output_shape((64, 96))
    assert out["heatmaps"].shape == (2, 3, h, w)
    assert out["locref"].shape == (2, 6, h, w)
    assert out["paf"].shape == (2, 4, h, w)
    assert net.target_config().stride == stride


def test_loss_terms_and_masking(model: MultiPoseModel) -> None:
    targets = _targets(model)
    out = model.train()(torch.zeros(2, 3, 64, 96))
    loss = multi_pose_loss(out, targets, paf_weight=1.0)
    assert loss.paf > 0 and torch.isclose(loss.total, loss.heatmap + 0.05 * loss.locref
                                          + loss.paf)
    loss.total.backward()
    assert model.head.paf.weight.grad is not None
    perfect = dict(out, paf=targets.paf.clone())
    assert multi_pose_loss(perfect, targets).paf == 0
    # errors where the weights are 0 do not count
    wrong_where_masked = dict(perfect, paf=torch.where(targets.paf_weights == 0, 5.0,
                                                       targets.paf))
    assert multi_pose_loss(wrong_where_masked, targets).paf == 0
    # limb cells weigh more than background cells
    b, c, h, w = targets.paf.shape
    limb = (targets.paf.reshape(b, c // 2, 2, h, w).abs().sum(dim=2) > 0).repeat_interleave(2, 1)
    limb &= targets.paf_weights > 0
    off_limb = dict(perfect, paf=torch.where(limb, targets.paf + 0.5, targets.paf))
    off_background = dict(perfect, paf=torch.where(~limb & (targets.paf_weights > 0), 0.5,
                                                   targets.paf))
    per_cell_limb = multi_pose_loss(off_limb, targets, limb_weight=5.0).paf / limb.sum()
    per_cell_bg = multi_pose_loss(off_background, targets, limb_weight=5.0).paf \
        / (~limb & (targets.paf_weights > 0)).sum()
    assert per_cell_limb / per_cell_bg == pytest.approx(5.0)


def test_loss_rejects_mismatched_shapes(model: MultiPoseModel) -> None:
    targets = _targets(model)
    out = model(torch.zeros(2, 3, 64, 96))
    with pytest.raises(ModelError, match="targets.paf"):
        multi_pose_loss(out, targets._replace(paf=targets.paf[:, :2]))
    with pytest.raises(ModelError, match="lack 'paf'"):
        multi_pose_loss({"heatmaps": out["heatmaps"], "locref": out["locref"]}, targets)


def test_bad_inputs(model: MultiPoseModel) -> None:
    with pytest.raises(ModelError, match="MultiModelConfig"):
        build_multi_model(ModelConfig(n_bodyparts=3, pretrained=False))
    with pytest.raises(ModelError, match=r"\(B, 3, H, W\)"):
        model(torch.zeros(3, 64, 64))
    with pytest.raises(ModelError, match="float"):
        model(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValidationError):
        MultiModelConfig(n_bodyparts=3, n_edges=0)
    with pytest.raises(ModelError, match="MultiPoseModel"):
        export_multi_onnx(torch.nn.Linear(2, 2), "x.onnx", input_size=(64, 64))


def test_onnx_export_matches_pytorch(model: MultiPoseModel, tmp_path: Path) -> None:
    path = export_multi_onnx(model, tmp_path / "m.onnx", input_size=(64, 64),
                             extra_metadata={"edges": "[[0, 1], [1, 2]]"})
    meta = onnx_metadata(path)
    assert meta["n_edges"] == "2" and meta["edges"] == "[[0, 1], [1, 2]]"
    images = torch.randn(2, 3, 96, 64)
    with torch.no_grad():
        expected = model.eval()(images)
    session = onnx_session(path)
    got = session.run(["heatmaps", "locref", "paf"], {"images": images.numpy()})
    for name, value in zip(("heatmaps", "locref", "paf"), got, strict=True):
        np.testing.assert_allclose(value, expected[name].numpy(), atol=1e-4, rtol=1e-3)
