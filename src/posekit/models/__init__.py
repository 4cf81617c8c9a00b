"""posekit.models."""
