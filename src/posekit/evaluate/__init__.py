"""posekit.evaluate."""
