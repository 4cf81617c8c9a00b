"""posekit.viz."""
