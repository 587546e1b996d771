"""Dask clusters for sweeps: ``local:N`` on this machine, or SLURM jobs from a ``[cluster]`` table.

Importing this module does not import Dask (``dask[distributed]`` is a dependency, ``dask-jobqueue``
the optional extra ``jaxneuron[cluster]``); :func:`check_cluster_table` runs when a sweep file is
parsed, so a bad ``[cluster]`` table is refused before anything is simulated.

Devices. One Dask worker process per GPU node / per group of CPU cores, **one thread per
worker** (a worker runs one chunk at a time), and inside the worker the chunk's members are
sharded over the worker's local JAX devices (every GPU of its job, or ``JAX_NUM_CPU_DEVICES``
CPU devices, one per core). The device count is fixed when JAX starts in the worker, so it is
set in the worker's environment before it is spawned:

* ``local:N``: N workers, each with ``cores // N`` CPU devices (``local:NxD``: D each);
* ``[cluster]`` (SLURM): ``cpus_per_job // workers_per_job`` per worker, exported in the job
  script; with ``gpus_per_job`` a job runs one worker that uses all its GPUs;
* a scheduler address (``dask worker`` started by you): start each worker as
  ``JAX_NUM_CPU_DEVICES=D dask worker ADDRESS --nthreads 1`` (default: one device per core of
  the worker's CPU affinity).

The ``[cluster]`` table of a sweep file (used by ``--dask slurm`` only; ignored otherwise and not
part of the results, so a resume may change it)::

    [cluster]
    jobs = 8                        # SLURM jobs started (each one node's share), default 1
    cpus_per_job = 16               # sbatch --cpus-per-task, default 1
    workers_per_job = 1             # Dask worker processes per job, default 1
    gpus_per_job = 0                # sbatch --gres=gpu:N (then workers_per_job = 1), default 0
    memory = "32GB"                 # per job (sbatch --mem), required
    walltime = "04:00:00"           # sbatch --time, default "01:00:00"
    queue = "compute"               # partition (optional); also account, interface,
    job_extra_directives = ["--constraint=avx2"]      # local_directory, log_directory, python
    job_script_prologue = ["source ~/venvs/jaxneuron/bin/activate"]
"""

from __future__ import annotations

import os
import re
import sys

from ._validate import SweepSpecError, check_keys, fail, number

__all__ = ["CLUSTER_KEYS", "check_cluster_table", "slurm_kwargs", "local_cluster", "slurm_cluster", "parse_local"]

_INT = {"jobs": 1, "cpus_per_job": 1, "workers_per_job": 1, "gpus_per_job": 0}
_STR = ("memory", "walltime", "queue", "account", "interface", "local_directory", "log_directory", "python")
_LIST = ("job_extra_directives", "job_script_prologue")
CLUSTER_KEYS = tuple(_INT) + _STR + _LIST
"""Valid keys of a sweep file's ``[cluster]`` table."""


def check_cluster_table(table) -> dict:
    """Validate a ``[cluster]`` table (keys, types, values); returns it with defaults filled in."""
    if table is None:
        return {}
    check_keys(table, CLUSTER_KEYS, "[cluster]")
    out = dict(_INT, walltime="01:00:00")
    out.update(table)
    for key, low in _INT.items():
        number(out[key], f"cluster.{key}", minimum=max(low, 0), integer=True)
        if key != "gpus_per_job" and out[key] < 1:
            fail(f"cluster.{key}", f"must be >= 1, got {out[key]!r}")
    for key in _STR:
        if key in out and not (isinstance(out[key], str) and out[key]):
            fail(f"cluster.{key}", f"expected a non-empty string, got {out[key]!r}")
    for key in _LIST:
        if key in out and not (isinstance(out[key], list) and all(isinstance(x, str) for x in out[key])):
            fail(f"cluster.{key}", f"expected a list of strings, got {out[key]!r}")
    if "memory" not in out:
        fail("[cluster]", 'missing required key "memory" (per SLURM job, e.g. memory = "16GB")')
    if not re.fullmatch(r"\d+(-\d+)?(:\d+){0,2}", out["walltime"]):
        fail("cluster.walltime", f'expected SLURM time "HH:MM:SS" (or "D-HH:MM:SS"), got {out["walltime"]!r}')
    if out["workers_per_job"] > out["cpus_per_job"]:
        fail("cluster.workers_per_job", f"{out['workers_per_job']} workers on {out['cpus_per_job']} CPUs per job: need workers_per_job <= cpus_per_job")
    if out["gpus_per_job"] and out["workers_per_job"] != 1:
        fail("cluster.workers_per_job", "with gpus_per_job > 0 a job runs one worker that shards its members over all the job's GPUs: set workers_per_job = 1")
    return out


def slurm_kwargs(table) -> tuple[dict, int]:
    """``(keyword arguments of dask_jobqueue.SLURMCluster, jobs)`` for a ``[cluster]`` table.

    Each Dask worker runs one thread (``cores = processes = workers_per_job``); SLURM books
    ``cpus_per_job`` CPUs (``job_cpu``) and each worker's JAX gets ``cpus_per_job //
    workers_per_job`` CPU devices (``export JAX_NUM_CPU_DEVICES`` in the job script)."""
    t = check_cluster_table(table)
    workers = t["workers_per_job"]
    prologue = [f"export JAX_NUM_CPU_DEVICES={t['cpus_per_job'] // workers}"] + list(t.get("job_script_prologue", []))
    extra = list(t.get("job_extra_directives", []))
    if t["gpus_per_job"]:
        extra.append(f"--gres=gpu:{t['gpus_per_job']}")
    kw = dict(cores=workers, processes=workers, job_cpu=t["cpus_per_job"], memory=t["memory"], walltime=t["walltime"],
              job_extra_directives=extra, job_script_prologue=prologue, name="jaxneuron-sweep")  # fmt: skip
    for key in ("queue", "account", "interface", "local_directory", "log_directory", "python"):
        if key in t:
            kw[key] = t[key]
    kw.setdefault("python", sys.executable)
    return kw, t["jobs"]


def slurm_cluster(table):
    """A started ``dask_jobqueue.SLURMCluster`` of ``jobs`` jobs from a ``[cluster]`` table."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise SweepSpecError("--dask slurm needs dask-jobqueue: pip install 'jaxneuron[cluster]' (or pip install dask-jobqueue)") from None
    if not table:
        raise SweepSpecError("--dask slurm needs a [cluster] table in the sweep file (jobs, cpus_per_job, memory, ...: "
                             "see jaxneuron.survey.cluster)")  # fmt: skip
    kw, jobs = slurm_kwargs(table)
    cluster = SLURMCluster(**kw)
    cluster.scale(jobs=jobs)
    return cluster


def parse_local(text: str) -> tuple[int, int]:
    """``"local:N"`` or ``"local:NxD"`` -> ``(N workers, D CPU devices each)``; D defaults to
    ``cores // N`` (at least 1)."""
    from .._devices import available_cores

    m = re.fullmatch(r"local:(\d+)(?:x(\d+))?", text)
    if not m or int(m.group(1)) < 1 or (m.group(2) is not None and int(m.group(2)) < 1):
        raise SweepSpecError(f"--dask {text!r}: expected local:N (N worker processes, N >= 1) or local:NxD (D CPU devices each)")
    n = int(m.group(1))
    d = int(m.group(2)) if m.group(2) else max(1, available_cores() // n)
    return n, d


def local_cluster(n_workers: int, devices: int):
    """A ``distributed.LocalCluster`` of ``n_workers`` spawned processes, one thread each, each
    with ``devices`` JAX CPU devices (``JAX_NUM_CPU_DEVICES``, set before the worker starts).

    Returns ``(cluster, restore)``: call ``restore()`` after closing the cluster (Dask's
    pre-spawn environment is set in this process's ``os.environ`` while workers may start)."""
    import dask
    from distributed import LocalCluster

    env = {"JAX_NUM_CPU_DEVICES": str(devices)}
    saved = {k: os.environ.get(k) for k in list(env) + ["PYTHONHASHSEED"]}

    def restore():
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    # never fork a process that has imported JAX: workers (and any the nanny restarts) are spawned
    dask.config.set({"distributed.worker.multiprocessing-method": "spawn"})
    pre = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}), **env)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": pre}):
        try:
            import bokeh  # noqa: F401

            dashboard = ":0"
        except ImportError:
            dashboard = None
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, memory_limit=0,
                               dashboard_address=dashboard)  # fmt: skip
    return cluster, restore
