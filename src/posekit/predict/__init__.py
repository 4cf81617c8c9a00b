"""posekit.predict."""
