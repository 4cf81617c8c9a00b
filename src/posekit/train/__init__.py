"""posekit.train."""
