"""Projects: folder layout, config.yaml, creating projects and adding videos."""

from posekit.project.config import ProjectConfig
from posekit.project.create import add_videos, create_project
from posekit.project.project import Project, open_project

__all__ = ["Project", "ProjectConfig", "add_videos", "create_project", "open_project"]
