"""posekit.postprocess."""
