"""posekit.data."""
