"""The ``posekit`` command. Each sub-command is a thin wrapper over a public function.

Commands live in one module per group of pipeline stages; importing them registers them on
the shared typer app.
"""

from __future__ import annotations

import sys

# Importing the command modules registers their commands, in this order in --help.
# isort: off
from posekit.cli import project_cmds  # noqa: F401
from posekit.cli import model_cmds  # noqa: F401
from posekit.cli import refine_cmds  # noqa: F401
from posekit.cli import threed_cmds  # noqa: F401
from posekit.cli import fast_cmds  # noqa: F401
# isort: on
from posekit.cli.app import app, expand_multi_value_options


def main() -> None:
    """Entry point of the ``posekit`` script."""
    app(args=expand_multi_value_options(sys.argv[1:]), prog_name="posekit")


__all__ = ["app", "main"]
