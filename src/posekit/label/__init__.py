"""posekit.label."""
