"""posekit.io."""
