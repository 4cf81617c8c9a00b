"""posekit.threed."""
