"""The project ``config.yaml``: DeepLabCut's keys, validated, with everything else kept.

A DeepLabCut config is read into :class:`ProjectConfig` (typed, validated) while the
original YAML document is kept beside it, so that writing the config back changes only the
values that changed: the user's comments, key order and unknown keys survive.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from posekit.errors import MissingFileError, ProjectError
from posekit.io.atomic import write_text_atomic

CONFIG_NAME = "config.yaml"
MULTI_PLACEHOLDER = "MULTI!"


class ProjectConfig(BaseModel):
    """DeepLabCut's project configuration keys, as posekit reads them.

    Unknown keys are allowed and kept (``model_extra``) so that a DeepLabCut config written
    back by posekit loses nothing.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    Task: str = ""
    scorer: str = ""
    date: str = ""
    multianimalproject: bool | None = None
    identity: bool | None = None
    project_path: str | None = None
    engine: str | None = "pytorch"
    video_sets: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    bodyparts: list[str] | str = Field(default_factory=list)
    individuals: list[str] | None = None
    uniquebodyparts: list[str] | None = None
    multianimalbodyparts: list[str] | None = None
    start: float = 0.0
    stop: float = 1.0
    numframes2pick: int = 20
    skeleton: list[list[str]] | None = None
    skeleton_color: str = "black"
    pcutoff: float = 0.6
    dotsize: int = 8
    alphavalue: float = 0.7
    colormap: str = "rainbow"
    TrainingFraction: list[float] = Field(default_factory=lambda: [0.95])
    iteration: int = 0
    default_net_type: str | None = None
    snapshotindex: int | str = -1
    batch_size: int = 8
    cropping: bool = False

    @field_validator("video_sets", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("skeleton", "individuals", "uniquebodyparts", "multianimalbodyparts",
                     mode="before")
    @classmethod
    def _empty_list_ok(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("TrainingFraction")
    @classmethod
    def _fractions_in_range(cls, value: list[float]) -> list[float]:
        for fraction in value:
            if not 0.0 < fraction < 1.0:
                raise ValueError(f"each TrainingFraction must lie in (0, 1), found {fraction}")
        return value

    @field_validator("pcutoff", "alphavalue")
    @classmethod
    def _unit_interval(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"must lie in [0, 1], found {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ProjectConfig:
        if not 0.0 <= self.start < self.stop <= 1.0:
            raise ValueError(
                f"start and stop are fractions of a video with 0 <= start < stop <= 1, "
                f"found start={self.start}, stop={self.stop}")
        names = self.all_bodyparts
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"bodyparts must be unique, found duplicates {duplicated}")
        for edge in self.skeleton or []:
            if len(edge) != 2:
                raise ValueError(f"each skeleton edge is a pair of bodyparts, found {edge}")
            unknown = [name for name in edge if name not in names]
            if unknown:
                raise ValueError(
                    f"skeleton edge {edge} names {unknown}, which are not bodyparts {names}")
        if self.is_multi_animal and not self.individuals:
            raise ValueError("a multi-animal project needs a non-empty 'individuals' list")
        return self

    @property
    def is_multi_animal(self) -> bool:
        """Whether this is a multi-animal project (``multianimalproject: true``)."""
        return bool(self.multianimalproject)

    @property
    def pose_bodyparts(self) -> list[str]:
        """Bodyparts every individual has (the multi-animal bodyparts in a maDLC project)."""
        if self.is_multi_animal:
            return list(self.multianimalbodyparts or [])
        if isinstance(self.bodyparts, str):
            return []
        return list(self.bodyparts)

    @property
    def unique_bodyparts(self) -> list[str]:
        """Bodyparts that occur once per frame, not per individual (multi-animal only)."""
        return list(self.uniquebodyparts or []) if self.is_multi_animal else []

    @property
    def all_bodyparts(self) -> list[str]:
        """Pose bodyparts followed by unique bodyparts."""
        return self.pose_bodyparts + self.unique_bodyparts

    @property
    def individual_names(self) -> list[str]:
        """Individuals of a multi-animal project; ``["animal"]`` for a single-animal one."""
        return list(self.individuals or []) if self.is_multi_animal else ["animal"]

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Skeleton edges as pairs of bodypart names."""
        return [(edge[0], edge[1]) for edge in self.skeleton or []]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def load_config(path: str | Path) -> tuple[ProjectConfig, CommentedMap]:
    """Read and validate a project config.yaml.

    Parameters
    ----------
    path : path-like
        The config.yaml file.

    Returns
    -------
    config : ProjectConfig
        The validated configuration.
    document : CommentedMap
        The YAML document as read, with comments; pass it to :func:`save_config`.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    ProjectError
        If it is not valid YAML or its values are invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"Project config {path} does not exist.")
    try:
        document = _yaml().load(path.read_text(encoding="utf-8"))
    except (YAMLError, UnicodeDecodeError) as error:
        raise ProjectError(f"{path} is not valid YAML: {error}. Fix the file by hand "
                           f"(a text editor shows the line) and try again.") from error
    if not isinstance(document, CommentedMap):
        raise ProjectError(f"{path} must hold a YAML mapping of keys to values, "
                           f"found {type(document).__name__}.")
    return parse_config(document, source=path), document


def parse_config(document: dict[str, Any], *, source: str | Path = "config") -> ProjectConfig:
    """Validate a config mapping, turning pydantic's errors into one clear ProjectError."""
    try:
        return ProjectConfig.model_validate(_plain(document))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'config'}: {item['msg']}"
            f" (found {item.get('input')!r})" for item in error.errors())
        raise ProjectError(f"{source} has invalid values: {problems}. "
                           f"Edit the file and try again.") from error


def _plain(value: Any) -> Any:
    """Turn ruamel's commented containers into plain dicts and lists."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def update_document(document: CommentedMap, config: ProjectConfig) -> CommentedMap:
    """Write the values of ``config`` into ``document`` where they differ.

    Keys the user had stay where they were, with their comments; keys posekit set that the
    file lacked are appended; unknown keys are never touched unless ``config`` changed them.
    """
    values = config.model_dump(mode="json")
    current = ProjectConfig.model_validate(_plain(document)).model_dump(mode="json")
    explicit = config.model_fields_set | set(config.model_extra or {})
    for key, value in values.items():
        if key in document:
            if current.get(key) != value:
                document[key] = value
        elif key in explicit:
            document[key] = value
    return document


def dump_document(document: CommentedMap) -> str:
    """Serialize a YAML document with ruamel, keeping its comments."""
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()


def save_config(path: str | Path, config: ProjectConfig, document: CommentedMap) -> None:
    """Atomically write ``config`` to ``path``, keeping the comments of ``document``."""
    parse_config(_plain(update_document(document, config)), source=path)
    write_text_atomic(path, dump_document(document))
