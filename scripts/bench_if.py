#!/usr/bin/env python
"""Benchmark: a 10,000-member AdEx f-I population (Brette & Gerstner 2005 defaults), 1 s each.

    .venv/bin/python scripts/bench_if.py [--n 10000] [--t-end 1000] [--brian2-python /path/to/python]

Members differ only in their constant current (0-1000 pA, evenly spaced), start at rest and fire
0-60 spikes. Rows, in one run on this machine (every core):

* jaxneuron's engines: the work queue with Kvaerno5 (the default) and Tsit5 at rtol 1e-6, and
  the fixed-step exponential Euler (dt 0.01 and 0.05 ms, masked resets inside the step);
* a scipy event loop (``solve_ivp`` DOP853 with a terminal threshold event and restarts, rtol
  1e-8, the textbook way) on a sample of members, its time extrapolated to the population;
* Brian2 (cpp_standalone, forward Euler at dt 0.01 and 0.05 ms as its AdEx examples use, all
  cores through OpenMP), if its interpreter is given (Brian2 needs numpy < 2.4: a separate
  environment; see README, Performance).

Accuracy: spike counts of every row against the scipy loop at rtol 1e-10 on a sample of 64
members spanning the currents (exact count matches and the largest first-spike-time error).
Prints a Markdown table (neuron-s per wall-clock second, compile time separate).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

P = dict(C=281.0, g_L=30.0, E_L=-70.6, V_T=-50.4, Delta_T=2.0, tau_w=144.0, a=4.0, b=80.5, V_r=-70.6, V_peak=-40.4)

BRIAN = r"""
import json, sys, tempfile, time
import numpy as np
import brian2 as b2
job = json.load(open(sys.argv[1]))
P, I, t_end, dt, cores = job["P"], np.asarray(job["I"]), job["t_end"], job["dt"], job["cores"]
workdir = tempfile.mkdtemp(prefix="bench_if_brian2_")
b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
b2.prefs.devices.cpp_standalone.openmp_threads = cores
b2.defaultclock.dt = dt * b2.ms
eqs = '''dv/dt = (-g_L*(v - E_L) + g_L*Delta_T*exp((v - V_T)/Delta_T) - w + I)/C : volt
         dw/dt = (a*(v - E_L) - w)/tau_w : amp
         I : amp'''
ns = dict(C=P["C"]*b2.pF, g_L=P["g_L"]*b2.nS, E_L=P["E_L"]*b2.mV, V_T=P["V_T"]*b2.mV, Delta_T=P["Delta_T"]*b2.mV,
          tau_w=P["tau_w"]*b2.ms, a=P["a"]*b2.nS, b=P["b"]*b2.pA, V_r=P["V_r"]*b2.mV, V_peak=P["V_peak"]*b2.mV)
G = b2.NeuronGroup(len(I), eqs, threshold="v > V_peak", reset="v = V_r; w += b", method="euler", namespace=ns)
G.v = P["E_L"] * b2.mV
G.I = I * b2.pA
mon = b2.SpikeMonitor(G)
b2.run(t_end * b2.ms)
t = time.perf_counter(); b2.device.build(directory=workdir, compile=True, run=False); compile_s = time.perf_counter() - t
t = time.perf_counter(); b2.device.run(directory=workdir, with_output=False); wall = time.perf_counter() - t
trains = mon.spike_trains()
print(json.dumps(dict(wall=wall, compile=compile_s, version=b2.__version__,
                      counts=[len(trains[i]) for i in range(len(I))], first=[float(trains[i][0] / b2.ms) if len(trains[i]) else None for i in range(len(I))])))
"""


def scipy_population(currents, t_end, rtol):
    from reference_if import adex_spikes

    out = []
    for I in currents:
        out.append(adex_spikes(float(I), t_end, y0=None) if rtol == 1e-10 else _loose(float(I), t_end, rtol))
    return out


def _loose(I, t_end, rtol):
    from reference_if import event_loop

    def rhs(t, y):
        V, w = y
        dV = (-P["g_L"] * (V - P["E_L"]) + P["g_L"] * P["Delta_T"] * math.exp((min(V, P["V_peak"]) - P["V_T"]) / P["Delta_T"]) - w + I) / P["C"]
        return [dV, (P["a"] * (V - P["E_L"]) - w) / P["tau_w"]]

    return event_loop(rhs, [P["E_L"], 0.0], t_end, P["V_peak"], lambda y: np.array([P["V_r"], y[1] + P["b"]]), rtol=rtol, atol=rtol)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--t-end", type=float, default=1000.0, help="ms per member")
    ap.add_argument("--scipy-sample", type=int, default=64)
    ap.add_argument("--brian2-python", default=os.environ.get("BENCH_BRIAN2_PYTHON"))
    a = ap.parse_args()

    import jax

    import jaxneuron as jn

    cores = len(jax.devices())
    currents = np.linspace(0.0, 1000.0, a.n)
    sample = np.linspace(0, a.n - 1, a.scipy_sample).round().astype(int)
    ref = scipy_population(currents[sample], a.t_end, 1e-10)
    ref_counts = np.array([len(r) for r in ref])
    ref_first = np.array([r[0] if len(r) else np.nan for r in ref])
    neuron_s = a.n * a.t_end / 1000.0
    rows = []

    def accuracy(counts, first):
        counts, first = np.asarray(counts)[sample], np.asarray(first, float)[sample]
        match = int(np.sum(counts == ref_counts))
        both = np.isfinite(first) & np.isfinite(ref_first)
        return f"{match}/{len(sample)}", float(np.max(np.abs(first[both] - ref_first[both]))) if both.any() else math.nan

    save = jn.SaveAt(states=None, spikes=True, max_spikes=128)
    for label, solver in [("jaxneuron queue Kvaerno5 (default)", jn.Kvaerno5()), ("jaxneuron queue Tsit5", jn.Tsit5()),
                          ("jaxneuron ExpEuler dt 0.01", jn.ExpEuler(dt=0.01)), ("jaxneuron ExpEuler dt 0.05", jn.ExpEuler(dt=0.05))]:  # fmt: skip
        model = jn.AdEx()
        t = time.perf_counter()
        jax.block_until_ready(jn.simulate(model, t_end=a.t_end, stimulus=currents, save=save, solver=solver).n_spikes)
        first_call = time.perf_counter() - t
        t = time.perf_counter()
        sol = jn.simulate(model, t_end=a.t_end, stimulus=currents, save=save, solver=solver)
        jax.block_until_ready(sol.n_spikes)
        wall = time.perf_counter() - t
        match, err = accuracy(sol.n_spikes, sol.spike_times[:, 0])
        rows.append((label, wall, max(0.0, first_call - wall), match, err))
        print(rows[-1], flush=True)

    t = time.perf_counter()
    loose = scipy_population(currents[sample], a.t_end, 1e-8)
    per_member = (time.perf_counter() - t) / len(sample)
    counts = np.zeros(a.n, int)
    first = np.full(a.n, np.nan)
    counts[sample] = [len(r) for r in loose]
    first[sample] = [r[0] if len(r) else np.nan for r in loose]
    match, err = accuracy(counts, first)
    rows.append((f"scipy solve_ivp event loop, rtol 1e-8 (1 core; {len(sample)} members, extrapolated)", per_member * a.n, 0.0, match, err))
    print(rows[-1], flush=True)

    if a.brian2_python:
        for dt in (0.01, 0.05):
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(dict(P=P, I=currents.tolist(), t_end=a.t_end, dt=dt, cores=cores), f)
            res = subprocess.run([a.brian2_python, "-c", BRIAN, f.name], capture_output=True, text=True)
            if res.returncode != 0:
                rows.append((f"Brian2 (failed: {res.stderr.strip().splitlines()[-1]})", math.nan, math.nan, "-", math.nan))
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            match, err = accuracy(r["counts"], [math.nan if f is None else f for f in r["first"]])
            rows.append((f"Brian2 {r['version']} cpp_standalone, Euler dt {dt} ({cores} OpenMP threads)", r["wall"], r["compile"], match, err))
            print(rows[-1], flush=True)

    print(f"\nAdEx f-I population: {a.n:,} members x {a.t_end:g} ms = {neuron_s:,.0f} neuron-s on {cores} cores\n")
    print("| engine | wall (s) | neuron-s/s | compile (s) | spike counts = reference | max first-spike error (ms) |")
    print("|---|---|---|---|---|---|")
    for label, wall, comp, match, err in rows:
        print(f"| {label} | {wall:.2f} | {neuron_s / wall:,.0f} | {comp:.1f} | {match} | {err:.2g} |")


if __name__ == "__main__":
    tempfile.tempdir = tempfile.gettempdir()
    main()
