"""A posekit project: a DeepLabCut-compatible folder with a config.yaml.

The project root is always the folder that holds config.yaml; every path in the config is
resolved from there, so a project keeps working after it is moved or copied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from ruamel.yaml.comments import CommentedMap

from posekit.errors import MissingFileError, ProjectError
from posekit.project.config import CONFIG_NAME, ProjectConfig, load_config, save_config

logger = logging.getLogger(__name__)

VIDEOS_DIR = "videos"
LABELED_DATA_DIR = "labeled-data"
TRAINING_DATASETS_DIR = "training-datasets"
MODELS_DIR = "posekit-models"
EVALUATION_DIR = "posekit-evaluation"
PROJECT_FOLDERS = (VIDEOS_DIR, LABELED_DATA_DIR, TRAINING_DATASETS_DIR, MODELS_DIR,
                   EVALUATION_DIR)


@dataclass
class Project:
    """An open project.

    Attributes
    ----------
    root : Path
        The folder holding config.yaml (absolute).
    config : ProjectConfig
        The validated configuration; change it and call :meth:`save` to write it back.
    """

    root: Path
    config: ProjectConfig
    _document: CommentedMap = field(repr=False)

    @property
    def config_path(self) -> Path:
        """The project's config.yaml."""
        return self.root / CONFIG_NAME

    @property
    def labeled_data_dir(self) -> Path:
        """``labeled-data/``: one folder of frames and labels per video."""
        return self.root / LABELED_DATA_DIR

    @property
    def videos_dir(self) -> Path:
        """``videos/``: the project's videos (copies or links)."""
        return self.root / VIDEOS_DIR

    @property
    def models_dir(self) -> Path:
        """``posekit-models/``: trained models, one folder per iteration and shuffle."""
        return self.root / MODELS_DIR

    @property
    def training_datasets_dir(self) -> Path:
        """``training-datasets/``: train/test splits."""
        return self.root / TRAINING_DATASETS_DIR

    @property
    def evaluation_dir(self) -> Path:
        """``posekit-evaluation/``: evaluation reports."""
        return self.root / EVALUATION_DIR

    @property
    def scorer(self) -> str:
        """The labeler's name, used in CollectedData_<scorer> file names."""
        return self.config.scorer

    def save(self) -> None:
        """Atomically write the config back, keeping comments and unknown keys."""
        save_config(self.config_path, self.config, self._document)

    def resolve_video(self, key: str) -> Path | None:
        """Find the video a ``video_sets`` key refers to.

        Looks, in order, in the project's ``videos/`` folder (by file name), relative to the
        project root, then at the key as an absolute path.

        Parameters
        ----------
        key : str
            A key of ``video_sets`` (a POSIX or Windows path, absolute or relative).

        Returns
        -------
        Path or None
            The video file, or None when it cannot be found.
        """
        name = PureWindowsPath(key).name if "\\" in key else Path(key).name
        candidates = [self.videos_dir / name, self.root / key, Path(key)]
        for candidate in candidates:
            if name and candidate.is_file():
                return candidate
        return None

    def videos(self) -> list[Path]:
        """The project's videos that exist on this machine, in config order."""
        found = []
        for key in self.config.video_sets:
            path = self.resolve_video(key)
            if path is None:
                logger.warning("video %s listed in %s was not found", key, self.config_path)
            else:
                found.append(path)
        return found

    def missing_videos(self) -> list[str]:
        """``video_sets`` keys whose video cannot be found."""
        return [key for key in self.config.video_sets if self.resolve_video(key) is None]

    def labeled_folders(self) -> list[Path]:
        """Folders under ``labeled-data/``, sorted by name."""
        if not self.labeled_data_dir.is_dir():
            return []
        return sorted(p for p in self.labeled_data_dir.iterdir() if p.is_dir())

    def labels_path(self, folder: str | Path) -> Path:
        """The CollectedData h5 of one labeled-data folder (which may not exist yet)."""
        folder = Path(folder)
        if not folder.is_absolute():
            folder = self.labeled_data_dir / folder
        return folder / f"CollectedData_{self.scorer}.h5"


def find_config(path: str | Path) -> Path:
    """Return the config.yaml of a project folder (or the file itself)."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        return path
    if path.is_dir():
        config = path / CONFIG_NAME
        if config.is_file():
            return config
        raise ProjectError(
            f"{path} is not a project: it has no {CONFIG_NAME}. Create a project with "
            f"`posekit create NAME --experimenter WHO --videos VIDEO...`, or pass the folder "
            f"that holds {CONFIG_NAME}.")
    raise MissingFileError(f"Project {path} does not exist. Pass the project folder or its "
                           f"{CONFIG_NAME}.")


def open_project(path: str | Path) -> Project:
    """Open an existing posekit or DeepLabCut project as it is.

    Parameters
    ----------
    path : path-like
        The project folder, or its config.yaml.

    Returns
    -------
    Project

    Raises
    ------
    ProjectError
        If the folder holds no config.yaml, or the config is invalid.
    MissingFileError
        If the path does not exist.
    """
    config_path = find_config(path)
    config, document = load_config(config_path)
    if not config.scorer:
        raise ProjectError(f"{config_path} has no 'scorer': name who labels this project, "
                           f"e.g. 'scorer: Jane'.")
    return Project(root=config_path.parent.resolve(), config=config, _document=document)
