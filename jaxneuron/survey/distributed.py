"""Sweeps on Dask: ``jaxneuron sweep SPEC --out DB --dask SCHEDULER`` and ``sweep(..., client=...)``.

Each chunk of the sweep is one Dask task (:func:`chunk_task`). A worker process builds the chunk
program once (cached per process, with JAX's persistent compilation cache where
``$JAXNEURON_COMPILATION_CACHE`` -- default ``~/.cache/jaxneuron/jax``, ``off`` to disable -- is
a directory the worker can write), simulates the chunk on its local devices, and writes the
chunk's region and then its done flag into the one database (:mod:`.store`). The client creates
or checks the database, submits the chunks that are not done, shows a progress bar and prints the
summary.

Fault tolerance: a task whose worker dies is rerun by the scheduler (Dask's
``distributed.scheduler.allowed-failures``), a task that raises is retried (``retries``), and a
task finding its chunk already done returns at once: every chunk region is a pure function of
the spec and the chunk, so reruns write the same bytes and the database equals a single-process
run. If the scheduler goes away, the client stops with :class:`SweepError` and ``--resume`` (on
Dask or not) finishes the job.

Scheduler strings (:func:`connect`): ``local:N`` (a :class:`distributed.LocalCluster` of N spawned
worker processes, one thread each, ``cores // N`` JAX CPU devices each; ``local:NxD``: D each),
``tcp://HOST:PORT`` (or any Dask address: workers you started), ``slurm`` (a
``dask_jobqueue.SLURMCluster`` from the sweep file's ``[cluster]`` table: :mod:`.cluster`).
The connect timeout is Dask's ``distributed.comm.timeouts.connect`` (e.g. the environment
variable ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s``).
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from .store import SweepError

__all__ = ["connect", "sweep_on_client", "check_workers_see", "chunk_task", "RETRIES"]

RETRIES = 3
"""Dask ``retries`` of a chunk task that raised (a worker that died is handled by the scheduler)."""

_PROCESS: dict = {}
"""Per worker process: the chunk program of each spec seen, and whether the compilation cache is set."""


def _program(spec):
    """The chunk program of ``spec``, built once per process (JAX compiles it on the first chunk)."""
    from .engine import chunk_program

    if "cache" not in _PROCESS:
        import warnings

        from .cli import enable_compilation_cache

        _PROCESS["cache"] = enable_compilation_cache()
        # a worker's device count is chosen (cluster.py): no "1 CPU device of N cores" warning
        warnings.filterwarnings("ignore", message="jaxneuron is running on 1 CPU device", category=RuntimeWarning)
    key = (spec.text, spec.path, spec.chunk_size)
    if key not in _PROCESS:
        _PROCESS[key] = chunk_program(spec)
    return _PROCESS[key]


def chunk_task(spec, out: str, k: int) -> dict:
    """Run chunk ``k`` of ``spec`` into the database ``out`` (on a worker); skip it if done.
    Returns what the client reports: members run, seconds, compile seconds, worker, devices."""
    import jax

    from . import store
    from .engine import chunk_inputs, chunk_members, run_chunk
    from .run import _compile_seconds

    if not os.path.isdir(out):
        raise SweepError(f"worker {socket.gethostname()} does not see the database {out}: put it on a file system every worker shares")
    where = {"worker": f"{socket.gethostname()}:{os.getpid()}", "devices": f"{jax.local_device_count()} {jax.default_backend()}"}
    if store.chunk_done(out, k):
        return dict(k=k, members=0, wall=0.0, compile=0.0, **where)
    program = _program(spec)
    c0, t0 = _compile_seconds(), time.perf_counter()
    features, status, num_steps, traces = jax.device_get(run_chunk(program, *chunk_inputs(spec, k)))
    store.write_chunk(out, spec, k, features, status, num_steps, traces)
    return dict(k=k, members=chunk_members(spec, k)[1], wall=time.perf_counter() - t0, compile=_compile_seconds() - c0, **where)


def _probe(path: str, token: str) -> str | None:
    """On a worker: None if it sees ``path``'s directory with the client's probe file and may
    write there, else what is wrong."""
    parent = os.path.dirname(path)
    probe = os.path.join(parent, f".{os.path.basename(path)}.probe-{token}")
    try:
        with open(probe) as f:
            ok = f.read() == token
    except OSError as e:
        return f"cannot read the probe file {probe} ({e.strerror})"
    if not ok:
        return f"the probe file {probe} has other contents (another file system?)"
    if not os.access(parent, os.W_OK):
        return f"cannot write to {parent}"
    return None


def check_workers_see(client, path: str) -> None:
    """Refuse (:class:`SweepError`) when a worker does not see ``path``'s directory (the same
    files: a probe file written here is read back on every worker) or cannot write there.
    Nothing is left but the directory (created if missing): the probe is removed."""
    token = uuid.uuid4().hex
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    probe = os.path.join(parent, f".{os.path.basename(path)}.probe-{token}")
    with open(probe, "w") as f:
        f.write(token)
    try:
        problems = client.run(_probe, path, token)
    finally:
        os.remove(probe)
    bad = {w: p for w, p in problems.items() if p}
    if bad:
        lines = "\n  ".join(f"{w}: {p}" for w, p in sorted(bad.items()))
        raise SweepError(f"{len(bad)} of {len(problems)} Dask worker(s) cannot use the database path {path}:\n  {lines}\n"
                         "Put the database on a file system every worker shares (not a node-local /tmp), "
                         "and give --out as a path valid on the workers. Nothing was written.")  # fmt: skip


def _scheduler_lost(client, e) -> bool:
    """The error means the scheduler went away (not a chunk task's own error, re-raised here)."""
    if "scheduler-connection-lost" in str(e) or type(e).__name__ in ("CommClosedError", "StreamClosedError"):
        return True
    return getattr(client, "status", "running") not in ("running", "newly-created")


def sweep_on_client(client, spec, out: str, *, prepare, progress_bar, log, retries: int = RETRIES):
    """Run the chunks of ``spec`` not yet done in ``out`` as Dask tasks on ``client``.

    ``prepare()`` creates or checks the database (after the workers were shown to see its
    directory) and returns the spec to run. Returns ``(spec, chunks_run, members_run, wall,
    compile_s, workers)``."""
    from distributed import as_completed

    from .engine import chunk_members
    from .store import done_chunks

    address = client.scheduler.address
    try:
        if not client.scheduler_info().get("workers"):
            log(f"waiting for a Dask worker at {address} ...")
        client.wait_for_workers(1, timeout=None)
        check_workers_see(client, out)
    except SweepError:
        raise
    except Exception as e:  # noqa: BLE001
        raise SweepError(f"the Dask scheduler {address} is not usable ({type(e).__name__}: {e}); nothing was written") from e
    spec = prepare()
    done = done_chunks(out)
    todo = [k for k in range(spec.n_chunks) if not done[k]]
    token = uuid.uuid4().hex[:8]
    futures = [client.submit(chunk_task, spec, out, k, key=f"jaxneuron-chunk-{k}-{token}", retries=retries, pure=False)
               for k in todo]  # fmt: skip
    n_todo = int(sum(chunk_members(spec, k)[1] for k in todo))
    t_start = time.perf_counter()
    members_run, finished, compile_s, workers = 0, 0, {}, {}
    with progress_bar(n_todo) as bar:
        try:
            for fut in as_completed(futures):
                r = fut.result()
                finished += 1
                members_run += r["members"]
                compile_s[r["worker"]] = compile_s.get(r["worker"], 0.0) + r["compile"]
                workers[r["worker"]] = r["devices"]
                bar.update(r["members"])
        except BaseException as e:
            _cancel(client, futures)
            if isinstance(e, KeyboardInterrupt):
                raise
            left = len(todo) - finished
            if _scheduler_lost(client, e):
                raise SweepError(f"lost the Dask scheduler {address} ({type(e).__name__}: {e}) with {left} of {len(todo)} chunks "
                                 f"not finished by this run. The chunks written are kept: run again with --resume "
                                 f"(with --dask or without) to finish {out}.") from None  # fmt: skip
            raise SweepError(f"a chunk task failed after {retries} retries ({type(e).__name__}: {e}); {left} of {len(todo)} chunks "
                             f"not finished by this run. The chunks written are kept: run again with --resume.") from e  # fmt: skip
    wall = time.perf_counter() - t_start
    return spec, len(todo), members_run, wall, max(compile_s.values(), default=0.0), workers


def _cancel(client, futures):
    try:
        client.cancel(futures, force=True)
    except Exception:  # noqa: BLE001  (the scheduler may be gone)
        pass


def connect(scheduler: str, spec=None):
    """A ``distributed.Client`` for ``--dask SCHEDULER`` and a ``close()`` that shuts down what was
    started here (the client, and a local or SLURM cluster). ``spec``: the :class:`SweepSpec`
    (its ``[cluster]`` table for ``slurm``). Raises :class:`SweepError` when the scheduler
    cannot be reached (nothing is written)."""
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("--dask needs dask[distributed]: pip install 'dask[distributed]'") from None
    from .cluster import local_cluster, parse_local, slurm_cluster

    s = str(scheduler).strip()
    restore, cluster = (lambda: None), None
    if s.startswith("local:"):
        n, d = parse_local(s)
        cluster, restore = local_cluster(n, d)
    elif s == "slurm" or s.startswith("slurm:"):
        import tomllib

        if s != "slurm":
            raise SweepError(f"--dask {s!r}: write the SLURM settings in the sweep file's [cluster] table and pass --dask slurm")
        table = tomllib.loads(spec.text).get("cluster") if spec is not None and spec.text else None
        cluster = slurm_cluster(table)
    elif "://" not in s:
        raise SweepError(f"--dask {s!r}: expected local:N, local:NxD, a scheduler address tcp://HOST:PORT, or slurm")
    try:
        client = Client(cluster if cluster is not None else s)
    except Exception as e:  # noqa: BLE001
        if cluster is not None:
            cluster.close()
        restore()
        raise SweepError(f"cannot reach the Dask scheduler {s} ({type(e).__name__}: {e}); nothing was written. "
                         "Is `dask scheduler` running there, and is the address reachable from here?") from None  # fmt: skip

    def close():
        for thing in (client, cluster):
            if thing is not None:
                try:
                    thing.close(timeout=5) if thing is client else thing.close()
                except Exception:  # noqa: BLE001  (a scheduler that went away)
                    pass
        restore()

    return client, close


def describe_workers(workers: dict) -> str:
    """``"2 Dask workers (1 cpu device each)"`` from ``{worker: devices}``."""
    if not workers:
        return ""
    kinds = sorted(set(workers.values()))
    each = kinds[0] if len(kinds) == 1 else " / ".join(kinds)
    return f"{len(workers)} Dask worker process(es) ({each} device(s) each)"

