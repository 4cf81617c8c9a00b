"""One task per video on a Dask distributed cluster (see :mod:`posekit.distributed.pool`).

Any Dask cluster works: ``dask scheduler`` plus ``dask worker`` processes started by hand,
a ``distributed.LocalCluster``, or an HPC batch system through dask-jobqueue, e.g.::

    from dask_jobqueue import SLURMCluster
    cluster = SLURMCluster(cores=8, processes=4, memory="16GB", walltime="02:00:00")
    cluster.scale(jobs=10)
    analyze_many(spec, videos, scheduler=cluster.scheduler_address)

Workers must be able to import posekit and to read the model and the videos at the same
paths as the client (a shared file system), and they write the outputs there.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from pathlib import Path
from typing import Any

from posekit.distributed.specs import PredictorSpec
from posekit.errors import VideoError
from posekit.predict.analyze import AnalyzeOptions
from posekit.progress import task

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = "20s"  # how long to wait for the scheduler


def run_on_dask(spec: PredictorSpec, videos: list[Path], *, options: AnalyzeOptions,
                scheduler: str | Any, retries: int = 2
                ) -> tuple[dict[Path, Path], dict[Path, str]]:
    """Analyze ``videos`` on the cluster of ``scheduler`` (an address or a Client).

    Returns
    -------
    done : dict of Path to Path
        Video -> its analysis h5.
    failed : dict of Path to str
        Video -> why it failed (after Dask's retries).

    Raises
    ------
    VideoError
        If the scheduler cannot be reached.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as error:  # pragma: no cover - dask is a declared dependency
        raise VideoError("--scheduler needs dask.distributed: pip install 'dask[distributed]'"
                         ) from error
    from posekit.distributed.pool import analyze_task

    own_client = not hasattr(scheduler, "submit")
    if own_client:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise VideoError(f"Cannot reach the Dask scheduler at {scheduler!r} ({error}). "
                             "Start one (`dask scheduler`) or check the address.") from None
    else:
        client = scheduler
    done: dict[Path, Path] = {}
    failed: dict[Path, str] = {}
    try:
        futures = {client.submit(analyze_task, spec, str(video), options, None,
                                 key=_task_key(video), pure=False, retries=retries): video
                   for video in videos}
        with task(f"analyzing {len(videos)} videos on Dask", total=len(videos)) as bar:
            for future in as_completed(list(futures)):
                video = futures[future]
                try:
                    done[video] = Path(future.result())
                except Exception as error:  # KilledWorker, or the task's own error
                    failed[video] = f"{type(error).__name__}: {error}"
                    logger.error("%s could not be analyzed: %s", video, failed[video])
                bar.advance()
    finally:
        if own_client:
            client.close()
    return done, failed


def _task_key(video: Path) -> str:
    """Readable in Dask's dashboard, unique per submission (a re-run never gets a stale
    result of an earlier one)."""
    digest = hashlib.sha1(str(video).encode()).hexdigest()[:8]
    return f"posekit-analyze-{video.stem[:40]}-{digest}-{uuid.uuid4().hex[:8]}"
