"""``sweep``: run (or resume, or run one shard of) a sweep into its database."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time

import jax
import numpy as np

from .spec import SweepSpec, load_spec
from .store import SweepError, check_store, create_store, done_chunks, is_sweep_store, write_chunk

__all__ = ["sweep", "SweepSummary", "parse_shard", "summarize"]


def parse_shard(text) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``: this process runs chunks I, I+N, I+2N, ..."""
    if isinstance(text, tuple):
        i, n = text
    else:
        try:
            i, n = (int(x) for x in str(text).split("/"))
        except ValueError:
            raise SweepError(f"--shard expects I/N with integers 0 <= I < N (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise SweepError(f"--shard {i}/{n}: need 0 <= I < N (shards are numbered 0 .. N-1), e.g. 0/{max(n, 2)}")
    return int(i), int(n)


@dataclasses.dataclass(frozen=True)
class SweepSummary:
    """What one :func:`sweep` call did, and where the database stands."""

    path: str
    n_members: int
    n_chunks: int
    chunks_done: int
    chunks_run: int
    members_run: int
    wall_s: float
    compile_s: float
    class_counts: dict
    status_counts: dict
    workers: str = ""  # Dask runs: "N Dask worker process(es) (D cpu device(s) each)"

    @property
    def complete(self) -> bool:
        return self.chunks_done == self.n_chunks

    @property
    def members_per_s(self) -> float:
        return self.members_run / self.wall_s if self.wall_s > 0 else float("nan")

    def format(self) -> str:
        lines = [f"{self.path}: {self.chunks_done}/{self.n_chunks} chunks done"
                 + (" (complete)" if self.complete else " (incomplete: run again with --resume)")]  # fmt: skip
        if self.chunks_run:
            lines.append(f"this run: {self.members_run:,} members in {self.wall_s:.1f} s wall, {self.members_per_s:.2f} "
                         f"members/s (compilation {self.compile_s:.1f} s of it" + (", the most on one worker" if self.workers else "") + ")")  # fmt: skip
            if self.workers:
                lines.append(f"on {self.workers}")
        else:
            lines.append("this run: nothing to do")
        lines.append(_format_counts(self.class_counts, self.status_counts))
        return "\n".join(lines)


def _format_counts(class_counts, status_counts) -> str:
    """Class fractions (every label of :data:`jaxneuron.ACTIVITY_LABELS`, ``undetermined`` apart from
    ``irregular``) and solver failures, as printed after a sweep and by ``jaxneuron sweep info``."""
    total = sum(class_counts.values()) + status_counts.get("failed", 0)
    if not total:
        return "no member computed yet"
    cls = ", ".join(f"{name} {c / total:.1%}" for name, c in class_counts.items())
    failed = {k: v for k, v in status_counts.items() if k != "failed" and v}
    fail = "none" if not failed else ", ".join(f"{v} {k}" for k, v in failed.items())
    what = "rhythm classes of {:,} computed networks" if "pyloric-like" in class_counts else "classes of {:,} computed members"
    text = f"{what.format(total)}: {cls}\nsolver failures: {fail}"
    if class_counts.get("undetermined", 0):
        text += ("\nundetermined: the analysed window is too short to classify these members (too few ISIs or "
                 "complete bursts); a longer [protocol] window decides them")  # fmt: skip
    return text


def summarize(path) -> tuple[dict, dict]:
    """``(class_counts, status_counts)`` over the computed members of the database at ``path``.

    ``class_counts``: ``{label name: members}`` for every name of :data:`jaxneuron.ACTIVITY_LABELS`
    (silent, tonic, bursting, irregular, undetermined), successful solves only; failed members
    (label -1) are counted in ``status_counts`` (by status name, and in total as ``"failed"``).
    Network sweeps: the rhythm classes (:data:`.network.RHYTHM_CLASSES`) instead of the labels."""
    import xarray as xr

    from ..analysis import ACTIVITY_LABELS
    from ..simulate import STATUS
    from .network import RHYTHM_CLASSES

    ds = xr.open_zarr(path)
    status = ds["status"].values
    ok = status == 0
    if "rhythm_class" in ds:
        label, names = ds["rhythm_class"].values, RHYTHM_CLASSES
    else:
        label, names = ds["label"].values, ACTIVITY_LABELS
    class_counts = {name: int(np.sum(ok & (label == i))) for i, name in enumerate(names)}
    status_counts = {STATUS[s]: int(np.sum(status == s)) for s in STATUS if s != 0}
    status_counts["failed"] = int(np.sum(status > 0))
    return class_counts, status_counts


def _prepare(spec, out, *, resume, overwrite, shard, chunk_size_given, log, device=None):
    from .engine import output_structure

    joining = shard[1] > 1
    if os.path.exists(out):
        if overwrite:
            if joining:
                raise SweepError("--overwrite with --shard would delete the other shards' work; remove the database once, then start the shards")
            if not is_sweep_store(out) and (not os.path.isdir(out) or os.listdir(out)):
                raise SweepError(f"{out} exists and is not a jaxneuron sweep database; refusing to delete it")
            shutil.rmtree(out) if os.path.isdir(out) else os.remove(out)
        elif not (resume or joining):
            raise SweepError(f"{out} already exists: pass --resume to continue it, or --overwrite to replace it")
        else:
            return check_store(out, spec, chunk_size_given=chunk_size_given)
    elif resume:
        log(f"{out} does not exist yet: starting a new sweep")
    if not create_store(out, spec, output_structure(spec), device=device):
        return check_store(out, spec, chunk_size_given=chunk_size_given)  # another shard created it first
    return spec


def _progress_bar(total, progress):
    from tqdm.auto import tqdm

    disable = (not sys.stderr.isatty()) if progress is None else not progress
    return tqdm(total=total, unit="member", desc="sweep", disable=disable, file=sys.stderr, dynamic_ncols=True)


_COMPILE_SECONDS = []
"""Seconds JAX reported spending on tracing, lowering and compiling in this process (one
listener, registered on first use; diagnostics for :attr:`SweepSummary.compile_s`)."""


def _compile_seconds() -> float:
    if not _COMPILE_SECONDS:
        _COMPILE_SECONDS.append(0.0)

        def listener(event, duration, **kwargs):
            if event.startswith("/jax/core/compile/"):
                _COMPILE_SECONDS[0] += duration

        jax.monitoring.register_event_duration_secs_listener(listener)
    return _COMPILE_SECONDS[0]


def sweep(spec, out, *, resume: bool = False, overwrite: bool = False, chunk_size: int | None = None,
          shard=(0, 1), progress: bool | None = None, log=None, client=None, retries: int | None = None) -> SweepSummary:  # fmt: skip
    """Run the sweep ``spec`` (a :class:`SweepSpec` or a TOML path) into the database ``out``.

    ``resume``: continue an existing database (skipping done chunks); refused when its spec
    differs. ``overwrite``: replace an existing database. ``chunk_size``: override the spec's
    (a new database only). ``shard=(i, n)`` or ``"i/n"``: run only chunks i, i+n, ... (shards of
    one sweep share, and may concurrently create, the database). ``progress``: show a progress
    bar (default: when stderr is a terminal). Members whose solve fails are flagged in
    ``status``; the sweep goes on. A chunk whose write fails stays not done and the error is
    raised (a resume redoes it).

    ``client``: a ``dask.distributed.Client``: every chunk not done becomes one task on its
    workers, which write into ``out`` (made absolute; it must be on a file system the workers
    share, which is checked first); ``retries`` (default 3) Dask retries of a failed chunk task.
    Not combinable with ``shard`` (Dask does the splitting). See :mod:`.distributed`.
    """

    from .engine import chunk_inputs, chunk_members, chunk_program, run_chunk

    log = log or (lambda msg: print(msg, file=sys.stderr))
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    if chunk_size is not None:
        spec = spec.with_chunk_size(chunk_size)
    if resume and overwrite:
        raise SweepError("--resume and --overwrite contradict each other; choose one")
    shard = parse_shard(shard)
    out = os.fspath(out)
    if client is not None:
        return _sweep_dask(client, spec, out, resume=resume, overwrite=overwrite, shard=shard, progress=progress, log=log,
                           chunk_size_given=chunk_size is not None, retries=retries)  # fmt: skip
    spec = _prepare(spec, out, resume=resume, overwrite=overwrite, shard=shard,
                    chunk_size_given=chunk_size is not None, log=log)  # fmt: skip
    done = done_chunks(out)
    todo = [k for k in range(shard[0], spec.n_chunks, shard[1]) if not done[k]]
    program = chunk_program(spec)
    n_todo = int(sum(chunk_members(spec, k)[1] for k in todo))
    t_start = time.perf_counter()
    compile_before = _compile_seconds()
    members_run = 0

    def finish(k, result):
        nonlocal members_run
        features, status, num_steps, traces = jax.device_get(result)
        try:
            write_chunk(out, spec, k, features, status, num_steps, traces)
        except Exception as e:
            raise SweepError(f"writing chunk {k} to {out} failed ({type(e).__name__}: {e}); it stays not done. "
                             "The chunks written before are kept: run again with --resume.") from e  # fmt: skip
        n_real = chunk_members(spec, k)[1]
        members_run += n_real
        bar.update(n_real)

    with _progress_bar(n_todo, progress) as bar:
        pending = None
        for k in todo:
            result = run_chunk(program, *chunk_inputs(spec, k))  # compiled on the first call, then dispatched asynchronously
            if pending is not None:
                finish(*pending)  # host writes chunk k-1 while the device computes chunk k
            pending = (k, result)
        if pending is not None:
            finish(*pending)
    wall = time.perf_counter() - t_start
    compile_s = _compile_seconds() - compile_before
    class_counts, status_counts = summarize(out)
    return SweepSummary(
        path=out, n_members=spec.n_members, n_chunks=spec.n_chunks, chunks_done=int(done_chunks(out).sum()),
        chunks_run=len(todo), members_run=members_run, wall_s=wall, compile_s=compile_s,
        class_counts=class_counts, status_counts=status_counts,
    )  # fmt: skip



def _sweep_dask(client, spec, out, *, resume, overwrite, shard, progress, log, chunk_size_given, retries):
    from .distributed import RETRIES, describe_workers, sweep_on_client

    if shard != (0, 1):
        raise SweepError(f"--dask and --shard {shard[0]}/{shard[1]} do not combine: Dask splits the chunks over its workers "
                         "(use --shard for plain job arrays, without --dask)")  # fmt: skip
    out = os.path.abspath(out)
    from .store import device_description

    device = f"Dask workers of the scheduler {client.scheduler.address} (client: {device_description()})"
    prepare = lambda: _prepare(spec, out, resume=resume, overwrite=overwrite, shard=shard,  # noqa: E731
                               chunk_size_given=chunk_size_given, log=log, device=device)  # fmt: skip
    if os.path.exists(out) and not (resume or overwrite):
        prepare()  # the "already exists" error before any worker is asked
    spec, chunks_run, members_run, wall, compile_s, workers = sweep_on_client(
        client, spec, out, prepare=prepare, progress_bar=lambda n: _progress_bar(n, progress), log=log,
        retries=RETRIES if retries is None else retries)  # fmt: skip
    class_counts, status_counts = summarize(out)
    return SweepSummary(
        path=out, n_members=spec.n_members, n_chunks=spec.n_chunks, chunks_done=int(done_chunks(out).sum()),
        chunks_run=chunks_run, members_run=members_run, wall_s=wall, compile_s=compile_s,
        class_counts=class_counts, status_counts=status_counts, workers=describe_workers(workers),
    )  # fmt: skip
