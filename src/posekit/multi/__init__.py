"""posekit.multi."""
