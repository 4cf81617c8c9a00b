"""posekit.frames."""
