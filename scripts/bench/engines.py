"""Engine workers: each runs in its own fresh process (``python scripts/bench --worker JOB.json``).

A job is one engine and one phase:
* ``speed``: simulate the first ``n`` benchmark sets for ``t_end`` ms, keeping the final state only,
  ``repeats`` times; report wall times, compile time, throughput and peak RSS of the process.
* ``accuracy``: simulate the accuracy subset (benchmark sets + published cells) for
  ``acc_t_end`` ms with V sampled densely; report spike times.
* ``reference``: the tight reference for the accuracy subset.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import numpy as np

import workload as W

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the shared helpers
from benchproc import peak_rss_mb as _peak_rss_mb, pin as _pin  # noqa: E402


# --- jaxneuron ---------------------------------------------------------------------------------


def _jax_setup(job):
    cores = job["cores"]
    _pin(cores)  # import jaxneuron then gives JAX one CPU device per core it may run on (no flag)
    if not job.get("devices", True):
        os.environ["JAX_NUM_CPU_DEVICES"] = "1"
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


def _jax_solver(spec):
    from jaxneuron.solvers import SOLVERS

    if spec is None:
        return None
    name, _, rest = spec.partition(":")
    kwargs = {}
    for item in filter(None, rest.split(",")):
        k, v = item.split("=")
        if k == "dtype" or (k == "tabulated" and v not in ("true", "false")):
            kwargs[k] = v  # a dtype name, or a table mode ("nearest", "linear")
        else:
            kwargs[k] = (v == "true") if k == "tabulated" else float(v)
    return SOLVERS[name.lower()](**kwargs)


def run_jax(job):
    compile_s = _jax_setup(job)
    import jax
    import jaxneuron as jn

    solver = _jax_solver(job.get("solver"))
    engine = jn.DiffraxEngine() if job.get("engine") == "diffrax" else None
    kw = {} if solver is None else {"solver": solver}
    if engine is not None:
        kw["engine"] = engine
    g = np.load(job["sets"])[job["set_key"]]
    out = {"engine": job["name"], "jax": jax.__version__, "devices": len(jax.devices())}
    if job["phase"] == "speed":
        g = g[: job["n"]]
        model = jn.Prinz2003.from_conductances(g)
        save = {} if job.get("save") == "default" else {"save": jn.SaveAt(states=None)}
        walls, compiles = [], []
        for _ in range(job["repeats"]):
            c0 = compile_s[0]
            t = time.perf_counter()
            sol = jn.simulate(model, t_end=job["t_end"], **save, **kw)
            jax.block_until_ready(sol)
            walls.append(time.perf_counter() - t)
            compiles.append(compile_s[0] - c0)
            status, steps = np.asarray(sol.status), np.asarray(sol.num_steps)
            sol = None  # the default row's traces (10,000 x 20,001 samples) are not kept between repeats
        out.update(
            walls=walls, compiles=compiles, n=len(g), n_ok=int(np.sum(status == 0)),
            steps_mean=float(steps.mean()), steps_max=float(steps.max()), peak_rss_mb=_peak_rss_mb(),
        )  # fmt: skip
        return out
    idx = job["acc_index"]
    model = jn.Prinz2003.from_conductances(g[idx])
    if engine is None:
        sol = jn.simulate(model, t_end=job["acc_t_end"], save=jn.SaveAt(states=None, spikes=True), **kw)
        times, count = np.asarray(sol.spike_times), np.asarray(sol.n_spikes)
        out["spikes"] = [tt[: min(c, tt.size)].tolist() for tt, c in zip(times, count)]
        out["status"] = np.asarray(sol.status).tolist()
        return out
    dt = min(0.025, getattr(solver, "dt", 0.025))
    sol = jn.simulate(model, t_end=job["acc_t_end"], save=jn.SaveAt(save_dt=dt), **kw)
    V, t = np.asarray(sol.V, dtype=np.float64), np.asarray(sol.t, dtype=np.float64)
    out["spikes"] = [W.spike_times(t, v).tolist() for v in V]
    out["status"] = np.asarray(sol.status).tolist()
    return out


def run_reference(job):
    """Tight reference: diffrax Dopri8 at rtol = atol = 1e-11 on jaxneuron's vector field."""
    _jax_setup(job)
    import diffrax
    import jax
    import jax.numpy as jnp
    import jaxneuron as jn

    g = np.load(job["sets"])[job["set_key"]][job["acc_index"]]
    from jaxneuron._batching import flatten_members

    model, axes = flatten_members(jn.Prinz2003.from_conductances(g), (len(g),))  # members on axis 0
    tol = job.get("ref_tol", 1e-11)
    ts = jnp.arange(0.0, job["acc_t_end"] + 1e-9, 0.0125)

    @jax.jit
    def solve(model):  # model: members folded into axis 0 of its batchable fields
        def one(m):
            sol = diffrax.diffeqsolve(
                diffrax.ODETerm(m.vector_field), diffrax.Dopri8(), 0.0, job["acc_t_end"], 1e-3, m.default_y0(),
                saveat=diffrax.SaveAt(ts=ts, fn=lambda t, y, a: y[0]),
                stepsize_controller=diffrax.PIDController(rtol=tol, atol=tol), max_steps=2_000_000,
            )  # fmt: skip
            return sol.ys, sol.stats["num_steps"]

        return jax.vmap(one, in_axes=(axes,))(model)

    V, steps = solve(model)
    V = np.asarray(V)
    return {"engine": "reference", "spikes": [W.spike_times(np.asarray(ts), v).tolist() for v in V],
            "steps": np.asarray(steps).tolist(), "tol": tol}  # fmt: skip


# --- scipy solve_ivp in a Python loop ---------------------------------------------------------


def run_scipy(job):
    _pin(job["cores"])
    from scipy.integrate import solve_ivp

    g = np.load(job["sets"])[job["set_key"]]
    y0 = W.default_y0()
    kw = dict(method=job.get("method", "LSODA"), rtol=job.get("rtol", 1e-6), atol=job.get("atol", 1e-6))
    out = {"engine": job["name"]}
    if job["phase"] == "speed":
        t = time.perf_counter()
        for gi in g[: job["n"]]:
            sol = solve_ivp(lambda t, y, gi=gi: W.rhs(y, gi), (0.0, job["t_end"]), y0, **kw)
        out.update(walls=[time.perf_counter() - t], compiles=[0.0], n=min(job["n"], len(g)), peak_rss_mb=_peak_rss_mb())
        return out
    spikes = []
    for gi in g[job["acc_index"]]:
        ts = np.arange(0.0, job["acc_t_end"] + 1e-9, 0.0125)
        sol = solve_ivp(lambda t, y, gi=gi: W.rhs(y, gi), (0.0, job["acc_t_end"]), y0, t_eval=ts, **kw)
        spikes.append(W.spike_times(sol.t, sol.y[0]).tolist())
    out["spikes"] = spikes
    return out


# --- Brian2 C++ standalone --------------------------------------------------------------------

_BRIAN_EQS = """
dv/dt = -(iNa + iCa + iK + iH + iL) / (1*uF/cm**2) : volt
iNa = gNa * m_Na**3 * h_Na * (v - 50*mV) : amp/meter**2
iCa = (gCaT * m_CaT**3 * h_CaT + gCaS * m_CaS**3 * h_CaS) * (v - ECa) : amp/meter**2
iK = (gA * m_A**3 * h_A + gKCa * m_KCa**4 + gKd * m_Kd**4) * (v + 80*mV) : amp/meter**2
iH = gH * m_H * (v + 20*mV) : amp/meter**2
iL = gL * (v + 50*mV) : amp/meter**2
dCa/dt = (-9.39488 * iCa / (uA/cm**2) - Ca + 0.05) / (200*ms) : 1
ECa : volt
u = v / mV : 1
dm_Na/dt = (1/(1+exp((u+25.5)/-5.29)) - m_Na) / (2*(1.32 - 1.26/(1+exp((u+120)/-25)))*ms) : 1
dh_Na/dt = (1/(1+exp((u+48.9)/5.18)) - h_Na) / (2*0.67/(1+exp((u+62.9)/-10))*(1.5 + 1/(1+exp((u+34.9)/3.6)))*ms) : 1
dm_CaT/dt = (1/(1+exp((u+27.1)/-7.2)) - m_CaT) / (2*(21.7 - 21.3/(1+exp((u+68.1)/-20.5)))*ms) : 1
dh_CaT/dt = (1/(1+exp((u+32.1)/5.5)) - h_CaT) / (2*(105 - 89.8/(1+exp((u+55)/-16.9)))*ms) : 1
dm_CaS/dt = (1/(1+exp((u+33)/-8.1)) - m_CaS) / (2*(1.4 + 7/(exp((u+27)/10) + exp((u+70)/-13)))*ms) : 1
dh_CaS/dt = (1/(1+exp((u+60)/6.2)) - h_CaS) / (2*(60 + 150/(exp((u+55)/9) + exp((u+65)/-16)))*ms) : 1
dm_A/dt = (1/(1+exp((u+27.2)/-8.7)) - m_A) / (2*(11.6 - 10.4/(1+exp((u+32.9)/-15.2)))*ms) : 1
dh_A/dt = (1/(1+exp((u+56.9)/4.9)) - h_A) / (2*(38.6 - 29.2/(1+exp((u+38.9)/-26.5)))*ms) : 1
dm_KCa/dt = (Ca/(Ca+3)/(1+exp((u+28.3)/-12.6)) - m_KCa) / (2*(90.3 - 75.1/(1+exp((u+46)/-22.7)))*ms) : 1
dm_Kd/dt = (1/(1+exp((u+12.3)/-11.8)) - m_Kd) / (2*(7.2 - 6.4/(1+exp((u+28.3)/-19.2)))*ms) : 1
dm_H/dt = (1/(1+exp((u+75)/5.5)) - m_H) / (2/(exp((u+169.7)/-11.6) + exp((u-26.7)/14.3))*ms) : 1
gNa : siemens/meter**2
gCaT : siemens/meter**2
gCaS : siemens/meter**2
gA : siemens/meter**2
gKCa : siemens/meter**2
gKd : siemens/meter**2
gH : siemens/meter**2
gL : siemens/meter**2
"""


def run_brian2(job):
    _pin(job["cores"])
    try:
        import brian2 as b2
    except Exception as e:  # noqa: BLE001
        return {"engine": job["name"], "skipped": f"brian2 not importable ({type(e).__name__}: {e})"}
    import tempfile

    g = np.load(job["sets"])[job["set_key"]]
    speed = job["phase"] == "speed"
    g = g[: job["n"]] if speed else g[job["acc_index"]]
    t_end = job["t_end"] if speed else job["acc_t_end"]
    workdir = tempfile.mkdtemp(prefix="bench_brian2_")
    b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = job["cores"] if job["cores"] > 1 else 0
    b2.defaultclock.dt = job.get("dt", 0.025) * b2.ms
    kw = {} if speed else dict(threshold="v > -10*mV", refractory="v > -10*mV")
    G = b2.NeuronGroup(len(g), _BRIAN_EQS, method="exponential_euler", namespace={}, **kw)
    # E_Ca from the current [Ca] at the start of each step (Brian's exponential Euler needs each
    # equation conditionally linear in its own variable; the Nernst log makes dCa/dt nonlinear).
    G.run_regularly("ECa = 12.2*mV*log(3000/clip(Ca, 1e-9, 1e30))", when="start")
    mscm2 = b2.msiemens / b2.cm**2
    for i, name in enumerate(("gNa", "gCaT", "gCaS", "gA", "gKCa", "gKd", "gH", "gL")):
        setattr(G, name, g[:, i] * mscm2)
    y0 = W.default_y0()
    G.v = y0[0] * b2.mV
    G.Ca = y0[1]
    for i, name in enumerate(("m_Na", "h_Na", "m_CaT", "h_CaT", "m_CaS", "h_CaS", "m_A", "h_A", "m_KCa", "m_Kd", "m_H")):
        setattr(G, name, y0[2 + i])
    mon = None if speed else b2.SpikeMonitor(G)
    b2.run(t_end * b2.ms)
    t = time.perf_counter()
    b2.device.build(directory=workdir, compile=True, run=False)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    b2.device.run(directory=workdir, with_output=False)
    wall = time.perf_counter() - t
    out = {"engine": job["name"], "brian2": b2.__version__}
    if speed:
        out.update(walls=[wall], compiles=[compile_s], n=len(g), peak_rss_mb=_peak_rss_mb(),
                   note="peak RSS of the Python driver; the C++ binary runs as a child process")  # fmt: skip
        try:
            child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
            out["peak_rss_mb"] = max(out["peak_rss_mb"], child)
        except Exception:  # noqa: BLE001
            pass
        return out
    trains = mon.spike_trains()
    out["spikes"] = [np.asarray(trains[i] / b2.ms).tolist() for i in range(len(g))]
    return out


ENGINES = {"jax": run_jax, "reference": run_reference, "scipy": run_scipy, "brian2": run_brian2}


def worker_main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    result = ENGINES[job["kind"]](job)
    with open(job["result"], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1]))
