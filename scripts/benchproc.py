"""Process helpers shared by the benchmark scripts (``scripts/bench``, ``scripts/bench_network``):
each row runs in its own process, pinned to its cores, reading a job and writing its result as JSON."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time

__all__ = ["peak_rss_mb", "pin", "spawn"]


def peak_rss_mb():
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def pin(cores):
    """Restrict this process (and the threads and children it starts) to ``cores`` CPUs."""
    avail = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, avail[: max(1, min(cores, len(avail)))])


def spawn(job, python, tmp, label, worker, *, tag, default_timeout, announce=""):
    """Run ``python worker JOB.json`` (``worker``: a script path, run in its folder) for ``job``;
    returns its result dict with ``process_wall_s``, or ``{"error": last line}`` on failure or
    timeout. ``tag`` prefixes the progress lines; ``announce`` describes the row."""
    job_path = os.path.join(tmp, f"{label}.job.json")
    job["result"] = os.path.join(tmp, f"{label}.result.json")
    with open(job_path, "w") as f:
        json.dump(job, f)
    print(f"[{tag}] {label}: {announce or ' '.join([worker, job_path])} ...", flush=True)
    t = time.perf_counter()
    try:
        proc = subprocess.run([python, worker, job_path], capture_output=True, text=True,
                              timeout=job.get("timeout", default_timeout), cwd=os.path.dirname(worker))  # fmt: skip
    except subprocess.TimeoutExpired:
        print(f"[{tag}] {label} timed out", flush=True)
        return {"error": f"timed out after {job.get('timeout', default_timeout)} s"}
    wall = time.perf_counter() - t
    if proc.returncode != 0 or not os.path.exists(job["result"]):
        tail = (proc.stderr or proc.stdout)[-3000:]
        print(f"[{tag}] {label} FAILED:\n{tail}", flush=True)
        lines = [ln for ln in tail.strip().splitlines() if ln.strip()]
        return {"error": lines[-1] if lines else f"exit {proc.returncode}"}
    with open(job["result"]) as f:
        res = json.load(f)
    res["process_wall_s"] = wall
    print(f"[{tag}] {label}: done in {wall:.0f} s", flush=True)
    return res
