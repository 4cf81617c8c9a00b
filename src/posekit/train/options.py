"""Training options: one strict, typed object passed from the CLI down to the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from posekit.data.augment import AugmentationConfig


class TrainOptions(BaseModel):
    """How to train a single-animal model (unknown keys are rejected).

    Attributes
    ----------
    epochs : int
        Passes over the training images.
    batch_size : int
        Images per optimizer step.
    learning_rate : float
        Peak AdamW learning rate (after a short linear warm-up; cosine decay to 1% after).
    weight_decay : float
        AdamW weight decay.
    warmup_epochs : float
        Length of the linear warm-up.
    crop_size : (int, int)
        (height, width) of the training crops.
    backbone : str
        Registered backbone name (``mobilenet_v2``, ``efficientnet_lite0``, ``resnet_50``).
    output_stride : {4, 8, 16}
        Input pixels per output cell.
    pretrained : bool
        Start from the packaged ImageNet weights.
    weights : Path or None
        A backbone weight file of the user's (overrides ``pretrained``).
    init_from : Path or None
        A posekit checkpoint (e.g. the previous iteration's best.pt) to start the whole
        network from.
    checkpoint_every : int
        Keep a numbered checkpoint every this many epochs (``last.pt`` is written after each).
    eval_every : int
        Evaluate the test RMSE every this many epochs (and at the end).
    device : {"auto", "cpu", "cuda"}
        Where to train; auto takes the GPU when there is one.
    threads : int or None
        PyTorch CPU threads (all cores by default).
    num_workers : int
        Data-loading worker processes (0: augment in the training process).
    seed : int
        Seeds initialisation, order and augmentation.
    augmentation : AugmentationConfig
        Which augmentations, how strong.
    """

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(default=60, ge=1, le=100_000)
    batch_size: int = Field(default=8, ge=1, le=4096)
    learning_rate: float = Field(default=1e-3, gt=0, le=1)
    weight_decay: float = Field(default=1e-4, ge=0)
    warmup_epochs: float = Field(default=1.0, ge=0)
    crop_size: tuple[int, int] = (256, 256)
    backbone: str = "mobilenet_v2"
    output_stride: Literal[4, 8, 16] = 8
    pretrained: bool = True
    weights: Path | None = None
    init_from: Path | None = None
    checkpoint_every: int = Field(default=5, ge=1)
    eval_every: int = Field(default=1, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(default=None, ge=1)
    num_workers: int = Field(default=0, ge=0)
    seed: int = 0
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)
