"""Workers of ``scripts/bench_network``: each job runs in its own fresh interpreter
(``python workers.py JOB.json``) and writes a JSON result.

Kinds:
* ``setup``: the Prinz 2004 warm start (:meth:`jaxneuron.Network.warm_start`, 20 s per cell
  alone) of every sampled network; writes ``y0`` into the sets file.
* ``reference``: the tight reference, Kvaerno5 at rtol = atol = 1e-10 on the accuracy subset,
  saving the state at the end of the short window, the final state and every spike.
* ``jax``: one jaxneuron row (solver, engine) on the main or the short workload, timed once
  (the compile time, from JAX's compile events, is reported separately and subtracted).
* ``rhythm``: jaxneuron's rhythm classes (spec 3.6) of spike trains from a peer row.
* ``scipy``: ``solve_ivp`` (LSODA) in a Python loop over the networks, one process per core.
* ``pyloric``: mackelab/pyloric's Cython ``sim_time`` (exponential Euler, dt 0.025 ms, noise
  off, started from the same warm state) in a loop over the networks, one process per core.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

import workload as W

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the shared helpers
from benchproc import peak_rss_mb as _peak_rss_mb, pin as _pin  # noqa: E402


def _sets(job):
    return np.load(job["sets"])


# --- jaxneuron -------------------------------------------------------------------------------------


def _jax_setup(job):
    _pin(job["cores"])  # import jaxneuron then gives JAX one CPU device per core (no flag)
    import jax

    if job.get("compile_cache"):
        jax.config.update("jax_compilation_cache_dir", job["compile_cache"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    compile_s = [0.0]

    def listener(event, duration, **kw):
        if event.startswith("/jax/core/compile/"):
            compile_s[0] += duration

    jax.monitoring.register_event_duration_secs_listener(listener)
    return compile_s


def _network(cells, syn):
    import jaxneuron as jn

    kw = {f: syn[:, k] for k, f in enumerate(W.SYNAPSES)}
    return jn.Pyloric2004(ab_pd=cells[:, 0], lp=cells[:, 1], py=cells[:, 2], **kw)


def _solver(spec):
    """``"kvaerno5:rtol=1e-6,atol=1e-6"`` -> ``jaxneuron.Kvaerno5(rtol=1e-6, atol=1e-6)``."""
    from jaxneuron.solvers import SOLVERS

    name, _, rest = spec.partition(":")
    kwargs = {}
    for item in filter(None, rest.split(",")):
        k, v = item.split("=")
        kwargs[k] = int(float(v)) if k == "max_steps" else v if k in ("dtype", "tabulated") else float(v)
    return SOLVERS[name.lower()](**kwargs)


def _trains(sol, n):
    times, count = np.asarray(sol.spike_times), np.asarray(sol.n_spikes)
    return [[times[i, c, : min(int(count[i, c]), times.shape[-1])].tolist() for c in range(3)] for i in range(n)]


def _rhythm(trains, t_start, t_end):
    """jaxneuron's rhythm features of ``[3 spike lists]`` per network over ``[t_start, t_end]``."""
    import jaxneuron as jn

    k = max(2, max((len(c) for net in trains for c in net), default=0))
    times = np.full((len(trains), 3, k), np.nan)
    for i, net in enumerate(trains):
        for c, x in enumerate(net):
            times[i, c, : len(x)] = x
    counts = np.array([[len(x) for x in net] for net in trains], dtype=np.int32)
    r = jn.rhythm_from_spikes(times, counts, t_start, t_end)
    return {"period": np.asarray(r.cycle_period).tolist(), "triphasic": np.asarray(r.triphasic).tolist(),
            "pyloric_like": np.asarray(r.pyloric_like).tolist()}  # fmt: skip


def run_setup(job):
    compile_s = _jax_setup(job)
    import jax

    d = dict(_sets(job))
    t = time.perf_counter()
    y0 = _network(d["cells"], d["syn"]).warm_start(t_settle=job["t_settle"])
    y0 = np.asarray(jax.block_until_ready(y0))
    wall = time.perf_counter() - t
    d["y0"] = y0
    np.savez(job["sets"], **d)
    return {"wall": wall, "compile_s": compile_s[0], "n": len(y0)}


def run_reference(job):
    compile_s = _jax_setup(job)
    import jax
    import jaxneuron as jn

    d = _sets(job)
    n = job["n"]
    net = _network(d["cells"][:n], d["syn"][:n])
    solver = _solver(job["solver"])
    save = jn.SaveAt(states="all", save_dt=job["t_small"], spikes=True, transient=0.0)
    t = time.perf_counter()
    sol = jn.simulate(net, t_end=job["t_end"], y0=d["y0"][:n], save=save, solver=solver)
    jax.block_until_ready(sol)
    wall = time.perf_counter() - t
    ts = np.asarray(sol.t)
    k = int(np.argmin(np.abs(ts - job["t_small"])))
    assert abs(ts[k] - job["t_small"]) < 1e-9, ts
    trains = _trains(sol, n)
    out = {"solver": job["solver"], "wall": wall, "compile_s": compile_s[0], "n": n, "status": np.asarray(sol.status).tolist(),
           "steps": np.asarray(sol.num_steps).tolist(), "y": np.asarray(sol.y_final).tolist(),
           "y_small": np.asarray(sol.ys)[:, k, :].tolist(), "spikes": trains}  # fmt: skip
    out.update(_rhythm(trains, job["transient"], job["t_end"]))
    return out


def run_jax(job):
    compile_s = _jax_setup(job)
    import jax
    import jaxneuron as jn

    d = _sets(job)
    n = job["n"]
    net = _network(d["cells"][:n], d["syn"][:n])
    kw = {"solver": _solver(job["solver"])}
    diffrax = job.get("engine") == "diffrax"
    if diffrax:  # records no spikes: V every 0.0125 ms, crossings located on the samples (as scripts/bench)
        kw["engine"] = jn.DiffraxEngine()
        save = jn.SaveAt(states="V", save_dt=0.0125, transient=job["transient"])
    else:
        save = jn.SaveAt(states=None, spikes=True, transient=job["transient"])
    y0 = jax.numpy.asarray(d["y0"][:n])
    walls, comps = [], []
    for _ in range(job.get("repeats", 1)):
        c0 = compile_s[0]
        t = time.perf_counter()
        sol = jn.simulate(net, t_end=job["t_end"], y0=y0, save=save, **kw)
        jax.block_until_ready(sol)
        walls.append(time.perf_counter() - t)
        comps.append(compile_s[0] - c0)
    if len(walls) > 1:  # the first run compiled; JAX's compile events overlap for nested traces (Diffrax)
        wall, comp, run_s = walls[0], walls[0] - walls[-1], walls[-1]
    else:
        wall, comp = walls[0], comps[0]
        run_s = wall - comp
    if diffrax:
        t, V = np.asarray(sol.t), np.asarray(sol.V)
        trains = [[W.crossings(t, V[i, c]).tolist() for c in range(3)] for i in range(n)]
    else:
        trains = _trains(sol, n)
    out = {"jax": jax.__version__, "devices": len(jax.devices()), "n": n, "wall": wall, "compile_s": comp,
           "run_s": run_s, "walls": walls, "status": np.asarray(sol.status).tolist(), "steps": np.asarray(sol.num_steps).tolist(),
           "accepted": np.asarray(sol.num_accepted).tolist(), "y": np.asarray(sol.y_final).tolist(), "spikes": trains,
           "peak_rss_mb": _peak_rss_mb()}  # fmt: skip
    if job["transient"] > 0:
        out.update(_rhythm(trains, job["transient"], job["t_end"]))
    return out


def run_rhythm(job):
    _jax_setup(job)
    with open(job["trains"]) as f:
        trains = json.load(f)
    return _rhythm(trains, job["transient"], job["t_end"])


# --- peers: per-network loops, one process per core ------------------------------------------------


def _pool_map(fn, items, procs):
    import multiprocessing as mp

    if procs <= 1:
        return [fn(x) for x in items]
    with mp.get_context("fork").Pool(procs) as pool:
        return pool.map(fn, items, chunksize=1)


def _scipy_one(args):
    from scipy.integrate import solve_ivp

    cells, syn, y0, t_end, method, rtol, atol = args
    rhs = W.make_rhs(cells, syn)
    t = time.perf_counter()
    ts = np.arange(0.0, t_end + 1e-9, 0.0125)
    sol = solve_ivp(rhs, (0.0, t_end), y0, method=method, rtol=rtol, atol=atol, t_eval=ts)
    wall = time.perf_counter() - t
    trains = [W.crossings(sol.t, sol.y[2 * c]).tolist() for c in range(3)]
    return {"y": sol.y[:, -1].tolist(), "spikes": trains, "ok": bool(sol.success), "nfev": int(sol.nfev), "wall": wall}


def run_scipy(job):
    _pin(job["cores"])
    d = _sets(job)
    n = job["n"]
    items = [(d["cells"][i], d["syn"][i], d["y0"][i], job["t_end"], job.get("method", "LSODA"), job["rtol"], job["atol"])
             for i in range(n)]  # fmt: skip
    t = time.perf_counter()
    res = _pool_map(_scipy_one, items, min(job["cores"], n))
    wall = time.perf_counter() - t
    return {"n": n, "wall": wall, "compile_s": 0.0, "run_s": wall, "procs": min(job["cores"], n), "peak_rss_mb": _peak_rss_mb(),
            "status": [0 if r["ok"] else 4 for r in res], "y": [r["y"] for r in res], "spikes": [r["spikes"] for r in res],
            "nfev": [r["nfev"] for r in res]}  # fmt: skip


_SIM = []


def _pyloric_sim_time(src):
    """pyloric's compiled ``sim_time``, without importing ``pyloric/__init__`` (which needs torch
    and sbi): from the package folder found on ``sys.path`` (or ``src``), its built extension
    ``simulator*.so``, else ``simulator.pyx`` through pyximport (as pyloric itself does)."""
    import importlib.util

    if src:
        sys.path.insert(0, src)
    spec = importlib.util.find_spec("pyloric")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("no importable 'pyloric' package (pass --pyloric-src or install mackelab/pyloric)")
    pkg = list(spec.submodule_search_locations)[0]
    sys.path.insert(0, pkg)
    try:
        import simulator  # the built extension next to simulator.pyx
    except ImportError:
        import pyximport

        pyximport.install(setup_args={"include_dirs": np.get_include()}, language_level=3)
        import simulator
    return simulator.sim_time, pkg


def _pyloric_one(args):
    cells, syn, y0, t_end, dt = args
    sim_time = _SIM[0]
    modelx, conns, init = W.pyloric_inputs(cells, syn, y0)
    t = np.arange(0.0, t_end + dt / 2, dt)  # t_end / dt steps (pyloric's interface uses arange(0, t_max, dt): one less)
    I = np.zeros((3, len(t)))  # noise off (pyloric's default noise_std is 0.001 uA per step)
    t0 = time.perf_counter()
    data = sim_time(dt, t, I, modelx, conns_=conns, g_q10_conns_gbar=np.ones(7), g_q10_conns_tau=np.ones(7),
                    g_q10_memb_gbar=np.ones(8), g_q10_memb_tau_m=[1.0] * 7, g_q10_memb_tau_h=[1.0] * 4,
                    g_q10_memb_tau_CaBuff=[1.0], temp=283.0, num_energy_timesteps=0, num_energyscape_timesteps=0,
                    init=init, verbose=False)  # fmt: skip
    wall = time.perf_counter() - t0
    trains = [W.crossings(t, data["Vs"][c]).tolist() for c in range(3)]
    y = W.pyloric_final_state(data)
    return {"y": y.tolist(), "spikes": trains, "ok": bool(np.all(np.isfinite(y))), "wall": wall}


def run_pyloric(job):
    _pin(job["cores"])
    try:
        sim_time, pkg = _pyloric_sim_time(job.get("pyloric_src"))
    except Exception as e:  # noqa: BLE001
        return {"skipped": f"pyloric not importable ({type(e).__name__}: {e})"}
    _SIM.append(sim_time)
    d = _sets(job)
    n = job["n"]
    items = [(d["cells"][i], d["syn"][i], d["y0"][i], job["t_end"], job["dt"]) for i in range(n)]
    t = time.perf_counter()
    res = _pool_map(_pyloric_one, items, min(job["cores"], n))
    wall = time.perf_counter() - t
    steps = [int(round(job["t_end"] / job["dt"]))] * n
    return {"n": n, "wall": wall, "compile_s": 0.0, "run_s": wall, "procs": min(job["cores"], n), "pyloric": pkg, "steps": steps,
            "peak_rss_mb": _peak_rss_mb(), "status": [0 if r["ok"] else 2 for r in res], "y": [r["y"] for r in res],
            "spikes": [r["spikes"] for r in res]}  # fmt: skip


KINDS = {"setup": run_setup, "reference": run_reference, "jax": run_jax, "rhythm": run_rhythm, "scipy": run_scipy,
         "pyloric": run_pyloric}  # fmt: skip


def main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    result = KINDS[job["kind"]](job)
    with open(job["result"], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
