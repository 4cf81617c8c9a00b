"""``python -m posekit`` runs the command line."""

from posekit.cli import main

main()
