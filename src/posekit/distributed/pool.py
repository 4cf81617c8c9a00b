"""Analyzing many videos: a local pool of worker processes, or a Dask cluster.

Each video is one task. A worker loads the model once (see
:func:`posekit.distributed.specs.cached_predictor`) and analyzes whole videos with
:func:`posekit.predict.analyze.analyze_video`, whose outputs appear atomically when a video
is finished -- so a task that dies leaves nothing that looks complete, a re-run skips
exactly the finished videos, and retrying a task is always safe.

Local pool (default)
    ``workers`` processes (default :func:`default_workers`: one per
    ``THREADS_PER_WORKER`` cores, no more than there are videos), each using
    ``cores // workers`` threads. With one worker the videos are analyzed in this process.
    When a worker process dies (killed, out of memory, a crash in native code) the pool is
    restarted: videos that had not started yet go back to the pool, and each video that was
    running is retried alone (so the one at fault is found, and the others are not blamed
    twice); a video is given up after ``retries`` further attempts.

Dask (``scheduler=ADDRESS`` or a ``distributed.Client``)
    One task per video on the cluster. Dask re-runs a task whose worker died (up to its
    ``distributed.scheduler.allowed-failures`` setting, 3 by default) and ``retries`` more
    times on an exception. Each task uses ``threads`` CPU threads, or the worker process's
    cores divided by its number of task threads.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from posekit.distributed.specs import PredictorSpec, available_cores, cached_predictor
from posekit.errors import MissingFileError, VideoError
from posekit.predict.analyze import AnalyzeOptions, analyze_video, is_analyzed, output_path
from posekit.progress import task

logger = logging.getLogger(__name__)

THREADS_PER_WORKER = 2


def default_workers(n_videos: int, *, cores: int | None = None, gpu: bool = False) -> int:
    """Worker processes for ``n_videos``: one per ``THREADS_PER_WORKER`` cores (one on a GPU)."""
    if gpu:
        return 1
    cores = cores or available_cores()
    return max(1, min(n_videos, cores // THREADS_PER_WORKER))


_started: Any = None  # in a pool worker: queue on which tasks announce the video they start


def _init_worker(started: Any) -> None:
    global _started
    _started = started


def analyze_task(spec: PredictorSpec, video: str, options: AnalyzeOptions,
                 threads: int | None) -> str:
    """One video, in a worker: load (or reuse) the model, analyze, return the h5 path."""
    if _started is not None:
        _started.put(video)  # written synchronously: the parent learns it even if we die
    if threads is None:
        threads = _dask_task_threads()
    predictor = cached_predictor(spec, threads)
    return str(analyze_video(predictor, video, options=options))


def analyze_many(spec: PredictorSpec, videos: Sequence[str | Path], *,
                 options: AnalyzeOptions = AnalyzeOptions(), workers: int | None = None,
                 scheduler: str | Any | None = None, retries: int = 2) -> list[Path]:
    """Analyze every video with the model of ``spec``, in parallel (see the module docs).

    Parameters
    ----------
    spec : PredictorSpec
        The model (:class:`~posekit.distributed.specs.ProjectModelSpec` or
        :class:`~posekit.distributed.specs.ExportedModelSpec`).
    videos : sequence of paths
        The videos.
    options : AnalyzeOptions
        As for one video; ``overwrite=False`` skips finished videos.
    workers : int, optional
        Local worker processes (default :func:`default_workers`); ignored with a scheduler.
    scheduler : str or distributed.Client, optional
        Address of a Dask scheduler (``tcp://host:8786``), or a connected client.
    retries : int
        Further attempts of a video whose worker died (or, on Dask, that raised).

    Returns
    -------
    list of Path
        The analysis h5 of each video, in order.

    Raises
    ------
    MissingFileError
        If a video does not exist (before anything runs).
    VideoError
        After every other video is done, if some could not be analyzed (listed).
    """
    # absolute, but symlinks kept: the analysis goes beside the path given (a project's
    # videos/ link), not beside the file it points to, as DeepLabCut does
    paths = [Path(os.path.abspath(v)) for v in videos]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MissingFileError(f"These videos do not exist: {missing}.")
    if retries < 0:
        raise VideoError(f"retries must be 0 or more, found {retries}.")
    todo = paths if options.overwrite else _unfinished(spec, paths, options)
    if len(todo) < len(paths):
        logger.info("%d of %d videos are already analyzed (use overwrite to redo them)",
                    len(paths) - len(todo), len(paths))
    if todo:
        if scheduler is not None:
            from posekit.distributed.dask_runner import run_on_dask

            done, failed = run_on_dask(spec, todo, options=options, scheduler=scheduler,
                                       retries=retries)
        else:
            done, failed = _run_local(spec, todo, options, workers, retries)
        if failed:
            lines = "; ".join(f"{p.name}: {why}" for p, why in failed.items())
            raise VideoError(f"{len(failed)} of {len(paths)} videos could not be analyzed "
                             f"({lines}). The others are done; fix these and run again.")
    else:
        done = {}
    return [done.get(p) or output_path(p, spec.scorer(), options.destination) for p in paths]


def _unfinished(spec: PredictorSpec, paths: list[Path], options: AnalyzeOptions) -> list[Path]:
    scorer = spec.scorer()
    return [p for p in paths
            if not is_analyzed(output_path(p, scorer, options.destination), scorer)]


def _run_local(spec: PredictorSpec, videos: list[Path], options: AnalyzeOptions,
               workers: int | None, retries: int) -> tuple[dict[Path, Path], dict[Path, str]]:
    n_workers = workers or default_workers(len(videos), gpu=spec.uses_gpu)
    if n_workers < 1:
        raise VideoError(f"workers must be at least 1, found {workers}.")
    n_workers = min(n_workers, len(videos))
    cores = available_cores()
    done: dict[Path, Path] = {}
    failed: dict[Path, str] = {}
    with task(f"analyzing {len(videos)} videos", total=len(videos)) as bar:
        if n_workers == 1:
            predictor = spec.load(threads=None if workers is None else cores)
            for video in videos:
                done[video] = analyze_video(predictor, video, options=options)
                bar.advance()
            return done, failed
        attempts = {video: 0 for video in videos}
        fresh, suspects = list(videos), []
        while fresh or suspects:
            # a video that was running when a worker died is retried alone, so that the one
            # at fault is found and the others are not blamed again
            batch, width = (fresh, n_workers) if fresh else ([suspects.pop(0)], 1)
            fresh = []
            for video, in_flight in _pool_round(spec, batch, options, width,
                                                max(1, cores // width), done, failed,
                                                bar).items():
                if not in_flight:
                    fresh.append(video)
                    continue
                attempts[video] += 1
                if attempts[video] > retries:
                    failed[video] = f"its worker died {attempts[video]} times"
                    bar.advance()
                else:
                    logger.warning("a worker died while analyzing %s; it will be tried again "
                                   "(attempt %d of %d)", video.name, attempts[video] + 1,
                                   retries + 1)
                    suspects.append(video)
    return done, failed


def _pool_round(spec: PredictorSpec, videos: list[Path], options: AnalyzeOptions,
                n_workers: int, threads: int, done: dict[Path, Path],
                failed: dict[Path, str], bar: Any) -> dict[Path, bool]:
    """Run ``videos`` in a fresh pool. Returns the videos lost because a worker died, each
    with whether it had started (was in flight) when the pool broke."""
    lost: list[Path] = []
    context = multiprocessing.get_context("spawn")
    started = context.SimpleQueue()
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=context,
                             initializer=_init_worker, initargs=(started,)) as pool:
        futures: dict[Future, Path] = {
            pool.submit(analyze_task, spec, str(video), options, threads): video
            for video in videos}
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in finished:
                video = futures[future]
                try:
                    done[video] = Path(future.result())
                    bar.advance()
                except BrokenProcessPool:
                    lost.append(video)
                except Exception as error:  # the video itself is at fault: not retried
                    failed[video] = f"{type(error).__name__}: {error}"
                    logger.error("%s could not be analyzed: %s", video, error)
                    bar.advance()
    began = set()
    while not started.empty():
        began.add(Path(started.get()))
    started.close()
    return {video: video in began for video in lost}


def _dask_task_threads() -> int | None:
    """In a Dask worker: its process's cores shared among its task threads."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    return max(1, available_cores() // max(1, int(worker.state.nthreads)))
