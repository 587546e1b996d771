"""jaxneuron pyloric-network benchmark: one invocation, one fresh process per engine.

    python scripts/bench_network --quick --out /tmp/bench_network.md        # smoke check, minutes
    python scripts/bench_network --out /tmp/bench_network.md                # full (< ~15 min on 2 cores)
    python scripts/bench_network --out b.md --pyloric-src /tmp/pyloric_src --pyloric-python /tmp/pylvenv/bin/python

Workload (``workload.py``): random members of the Prinz, Bucher & Marder 2004 grid (spec 3.4:
5 x 5 x 6 model cells, seven synapses, 20,250,000 networks; fixed seed), each started from the
Prinz warm start (every cell settled alone for 20 s, synapses off; ``Network.warm_start``).

* **Main workload**: N networks for ``--t-end`` ms with a ``--transient`` (the Prinz protocol
  is 1 s + 10 s; the benchmark shortens the window), spike times recorded on the solver's
  interpolant after the transient, final state kept (``SaveAt(states=None, spikes=True,
  transient=...)``). Throughput in network-seconds (and neuron-seconds: 3 per network) of model
  time per wall second, without compilation (reported separately); one timed run per row.
* **Short window** (the stiffness question, Tsit5 against Kvaerno5): the first ``--n-short``
  networks for ``--t-short`` ms from the same warm start, spikes from t = 0: steps and rejected
  steps (``num_steps - num_accepted``) per network-second, neuron-s/s, and the error of the
  final state against the reference.
* **Reference**: jaxneuron Kvaerno5 at rtol = atol = 1e-10 on the first ``--n-acc`` networks
  (the state at the end of the short window is read from the same solve); cached in the output
  folder. Tsit5 (an explicit method, independent of the reference's implicit one) checks it.
* **Accuracy** (main workload, first ``--n-acc`` networks): spike counts per cell in the window
  equal to the reference's, cycle-period error (relative), rhythm classes (``triphasic``,
  ``pyloric_like``, jaxneuron's spec 3.6 rules for every row, peers included) that differ from
  the reference's, and max |V - V_ref| over the three cells at the end.
* **Peer**: mackelab/pyloric's Cython simulator (``simulator.sim_time``: exponential Euler,
  dt 0.025 ms, its noise off, the same warm start), one process per core over the networks,
  when a ``pyloric`` package (built) is found (``--pyloric-src`` or the ``--pyloric-python``
  interpreter's path); else a scipy ``solve_ivp`` LSODA (rtol 1e-6) loop, one process per core.
  Build recipe for pyloric (not on PyPI; the PyPI name is an empty placeholder)::

      git clone https://github.com/mackelab/pyloric /tmp/pyloric_src
      python3 -m venv /tmp/pylvenv && /tmp/pylvenv/bin/pip install cython numpy setuptools
      cd /tmp/pyloric_src/pyloric && /tmp/pylvenv/bin/python -c "from setuptools import setup, Extension; \\
        from Cython.Build import cythonize; import numpy; setup(ext_modules=cythonize([Extension('simulator', \\
        ['simulator.pyx'], include_dirs=[numpy.get_include()], extra_compile_args=['-O3'])], language_level=3), \\
        script_args=['build_ext', '--inplace'])"

* **Extrapolation**: the full 20,250,000-network grid under the Prinz protocol (11 s of model
  time per network) at each main row's measured rate, in hours on this machine and core-hours.

Writes the markdown tables to ``--out`` (and ``<out>.json`` with every number). The orchestrator
never imports JAX; each row runs in a spawned interpreter using every core it is pinned to.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # scripts/: the shared helpers
from benchproc import spawn  # noqa: E402

import workload as W  # noqa: E402

PROTOCOL_S = 11.0  # Prinz 2004: 1 s transient + 10 s analysed, per network
REFERENCE = "kvaerno5:rtol=1e-10,atol=1e-10"
# name: (kind, settings, workload "main" | "short", N full, N quick, label)
ROWS = {
    "kvaerno5": ("jax", {"solver": "kvaerno5:rtol=1e-6,atol=1e-6"}, "main", 128, 16,
                 "**`Kvaerno5()`** (the default; work queue)"),
    "expeuler": ("jax", {"solver": "expeuler:dt=0.025"}, "main", 128, 16, "`ExpEuler(dt=0.025)` (work queue)"),
    "pyloric": ("pyloric", {"dt": 0.025}, "main", 32, 4, "mackelab/pyloric (Cython, exp. Euler dt 0.025 ms), one process per core"),
    "scipy-lsoda": ("scipy", {"method": "LSODA", "rtol": 1e-6, "atol": 1e-6}, "main", 2, 1,
                    "scipy `solve_ivp` LSODA rtol 1e-6, Python loop, one process per core"),
    "kvaerno5-short": ("jax", {"solver": "kvaerno5:rtol=1e-6,atol=1e-6"}, "short", 8, 2, "**`Kvaerno5()`** (rtol = atol = 1e-6)"),
    "kvaerno5-1e-8-short": ("jax", {"solver": "kvaerno5:rtol=1e-8,atol=1e-8"}, "short", 8, 2, "`Kvaerno5(rtol=1e-8, atol=1e-8)`"),
    "tsit5-short": ("jax", {"solver": "tsit5:rtol=1e-6,atol=1e-6,max_steps=3e6"}, "short", 8, 2,
                    "`Tsit5()` (rtol = atol = 1e-6; `max_steps` raised)"),
    "tsit5-1e-9-short": ("jax", {"solver": "tsit5:rtol=1e-9,atol=1e-9,max_steps=3e6"}, "short", 8, 2,
                         "`Tsit5(rtol=1e-9, atol=1e-9)` (independent check of the reference)"),
    "expeuler-short": ("jax", {"solver": "expeuler:dt=0.025"}, "short", 8, 2, "`ExpEuler(dt=0.025)`"),
    "diffrax-kvaerno5-short": ("jax", {"solver": "kvaerno5:rtol=1e-6,atol=1e-6", "engine": "diffrax", "repeats": 2}, "short", 2, 1,
                               "`Kvaerno5()`, `DiffraxEngine()` (dense LU; V saved every 0.0125 ms for the spikes)"),
    "scipy-lsoda-1e-10-short": ("scipy", {"method": "LSODA", "rtol": 1e-10, "atol": 1e-10}, "short", 1, 1,
                                "scipy `solve_ivp` LSODA rtol = atol = 1e-10 on a numpy vector field (independent check of the reference)"),
}  # fmt: skip
DEFAULT_ROWS = ["kvaerno5", "expeuler", "pyloric", "kvaerno5-short", "kvaerno5-1e-8-short", "tsit5-short", "expeuler-short",
                "diffrax-kvaerno5-short", "scipy-lsoda-1e-10-short"]  # fmt: skip
QUICK_ROWS = ["kvaerno5", "expeuler", "pyloric", "kvaerno5-short", "tsit5-short"]


def _parse():
    p = argparse.ArgumentParser(prog="python scripts/bench_network", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="markdown file for the tables (JSON next to it: <out>.json)")
    p.add_argument("--quick", action="store_true", help="smoke check: few networks, short runs, fewer rows")
    p.add_argument("--rows", default=None, help=f"comma list from {list(ROWS)} (default: a standard set)")
    p.add_argument("--n", action="append", default=[], metavar="ROW=N", help="override a row's number of networks")
    p.add_argument("--t-end", type=float, default=None, help="model time of the main workload, ms (5000; quick 2000)")
    p.add_argument("--transient", type=float, default=1000.0, help="not analysed, ms (Prinz: 1000)")
    p.add_argument("--t-short", type=float, default=None, help="model time of the short window, ms (1000; quick 200)")
    p.add_argument("--n-acc", type=int, default=None, help="networks with a reference (32; quick 4)")
    p.add_argument("--n-short", type=int, default=None, help="override every short-window row's N")
    p.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)), help="CPUs each row may use (default all)")
    p.add_argument("--pyloric-src", default=os.environ.get("BENCH_PYLORIC_SRC"),
                   help="folder holding the built mackelab/pyloric package (its pyloric/simulator*.so)")
    p.add_argument("--pyloric-python", default=os.environ.get("BENCH_PYLORIC_PYTHON", sys.executable),
                   help="interpreter for the pyloric row (needs numpy; default this one)")
    p.add_argument("--compile-cache", default=None, help="JAX persistent compilation cache dir (default: off, cold compiles)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=1800.0, help="per-process timeout (s)")
    return p.parse_args()


def _spawn(job, python, tmp, label):
    return spawn(job, python, tmp, label, os.path.join(HERE, "workers.py"), tag="bench_network", default_timeout=1800,
                 announce=f"{job['kind']} N={job.get('n', '-')} t_end={job.get('t_end', '-')}")


def _fmt(x, spec=".3g"):
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "-" if x is None or math.isnan(x) else "inf"
    return format(x, spec)


def _hours(h):
    return f"{h / 8766:.1f} years" if h >= 2 * 8766 else f"{h / 24:,.1f} days" if h >= 48 else f"{h:.1f} h"


def main():
    a = _parse()
    quick = a.quick
    t_end = a.t_end or (2000.0 if quick else 5000.0)
    t_short = a.t_short or (200.0 if quick else 1000.0)
    n_acc_req = a.n_acc or (4 if quick else 32)
    rows = [r.strip() for r in (a.rows or ",".join(QUICK_ROWS if quick else DEFAULT_ROWS)).split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        sys.exit(f"unknown row(s) {unknown}; known: {list(ROWS)}")
    overrides = {k: int(v) for k, v in (kv.split("=") for kv in a.n)}

    def n_of(r):
        kind, _, wl, n_full, n_quick, _ = ROWS[r]
        if r in overrides:
            return overrides[r]
        if wl == "short" and a.n_short:
            return a.n_short
        return n_quick if quick else n_full

    all_rows = rows + (["scipy-lsoda"] if "pyloric" in rows and "scipy-lsoda" not in rows else [])
    n_short_max = max([n_of(r) for r in all_rows if ROWS[r][2] == "short"], default=0)
    n_acc = max(n_acc_req, n_short_max)
    n_total = max([n_acc] + [n_of(r) for r in all_rows])
    idx, cells, syn, names = W.sample(n_total, seed=a.seed)
    out_dir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="jaxneuron_bench_network_")
    sets_path = os.path.join(tmp, "sets.npz")
    np.savez(sets_path, idx=idx, cells=cells, syn=syn)
    base = {"sets": sets_path, "cores": a.cores, "compile_cache": a.compile_cache, "timeout": a.timeout}
    t_start = time.perf_counter()

    setup = _spawn(dict(base, kind="setup", t_settle=20000.0, n=n_total), sys.executable, tmp, "setup")
    if "error" in setup:
        sys.exit(f"warm start failed: {setup['error']}")

    key = hashlib.sha1(cells[:n_acc].tobytes() + syn[:n_acc].tobytes() + f"{t_end},{t_short},{a.transient},{REFERENCE}".encode()).hexdigest()[:12]
    ref_path = os.path.join(out_dir, f"bench_network_reference_{key}.json")
    if os.path.exists(ref_path):
        with open(ref_path) as f:
            ref = json.load(f)
        print(f"[bench_network] reference from cache {ref_path}", flush=True)
    else:
        ref = _spawn(dict(base, kind="reference", solver=REFERENCE, n=n_acc, t_end=t_end, t_small=t_short,
                          transient=a.transient), sys.executable, tmp, "reference")  # fmt: skip
        if "error" in ref:
            sys.exit(f"reference failed: {ref['error']}")
        with open(ref_path, "w") as f:
            json.dump(ref, f)
    ref_short = {"y": ref["y_small"], "spikes": ref["spikes"]}

    results = {}
    for r in rows + ["scipy-lsoda"]:
        if r == "scipy-lsoda" and r not in rows:
            peer = results.get("pyloric")
            if peer is None or "skipped" not in peer:
                continue  # the scipy loop is the fallback peer
        if r in results:
            continue
        kind, settings, wl, *_ = ROWS[r]
        n = n_of(r)
        te = t_end if wl == "main" else t_short
        tr = a.transient if wl == "main" else 0.0
        job = dict(base, **settings, kind=kind, name=r, n=n, t_end=te, transient=tr)
        python = sys.executable
        if kind == "pyloric":
            job["pyloric_src"] = a.pyloric_src
            python = a.pyloric_python
        res = _spawn(job, python, tmp, r)
        if kind in ("pyloric", "scipy") and "y" in res and wl == "main":  # rhythm classes by jaxneuron's rules
            trains_path = os.path.join(tmp, f"{r}.trains.json")
            with open(trains_path, "w") as f:
                json.dump(res["spikes"], f)
            rh = _spawn(dict(base, kind="rhythm", trains=trains_path, transient=tr, t_end=te), sys.executable, tmp, f"{r}.rhythm")
            if "error" not in rh:
                res.update({k: rh[k] for k in ("period", "triphasic", "pyloric_like")})
        if "y" in res:
            n_cmp = min(n, n_acc)
            got = {k: res[k][:n_cmp] for k in ("y", "spikes", "period", "triphasic", "pyloric_like") if k in res}
            res["accuracy"] = W.compare(got, ref if wl == "main" else ref_short, (tr, te))
            res["network_s_per_s"] = n * te / 1000.0 / res["run_s"]
            if "steps" in res:
                steps, acc = np.asarray(res["steps"], float), np.asarray(res.get("accepted", res["steps"]), float)
                res["steps_per_network_s"] = float(steps.mean() / (te / 1000.0))
                res["steps_max_per_network_s"] = float(steps.max() / (te / 1000.0))
                res["rejected_per_network_s"] = float((steps - acc).mean() / (te / 1000.0))
        results[r] = res
        if "network_s_per_s" in res:
            print(f"[bench_network] {r}: {3 * res['network_s_per_s']:.3g} neuron-s/s", flush=True)

    # --- tables ----------------------------------------------------------------------------------
    total_wall = time.perf_counter() - t_start
    peer_name = next((p for p in ("pyloric", "scipy-lsoda") if "network_s_per_s" in results.get(p, {})), None)
    peer_rate = results[peer_name]["network_s_per_s"] if peer_name else None
    ra = ref
    n_ref_tri, n_ref_pl = int(np.sum(ra["triphasic"])), int(np.sum(ra["pyloric_like"]))
    win = f"[{a.transient / 1000:g} s, {t_end / 1000:g} s]"
    lines = [
        f"**Main workload**: N random grid networks (seed {a.seed}) from the warm start, {t_end / 1000:g} s of model time, "
        f"spikes recorded after {a.transient / 1000:g} s. Accuracy on the first {n_acc} networks against the reference "
        f"({n_ref_tri} triphasic, {n_ref_pl} pyloric-like over {win}).",
        "",
        f"| row | N | network-s/s | neuron-s/s | x {peer_name or 'peer'} | networks/s (11 s each) | compile (s) | steps / network-s (mean, max) "
        "| rejected / network-s | ok | spike counts exact | period err median / max | triphasic mislabelled | pyloric-like mislabelled | max abs dV at end: median |",
        "|" + "---|" * 15,
    ]
    for r in rows + (["scipy-lsoda"] if "scipy-lsoda" in results and "scipy-lsoda" not in rows else []):
        if ROWS[r][2] != "main" or r not in results:
            continue
        res, label = results[r], ROWS[r][5]
        if "network_s_per_s" not in res:
            lines.append(f"| {label} | - | {res.get('skipped') or res.get('error') or '?'} |" + " |" * 12)
            continue
        ac, rate = res["accuracy"], res["network_s_per_s"]
        steps = f"{res['steps_per_network_s']:,.0f}, {res['steps_max_per_network_s']:,.0f}" if "steps_per_network_s" in res else "-"
        rej = f"{res['rejected_per_network_s']:,.0f}" if "rejected_per_network_s" in res else "-"
        ok = f"{sum(s == 0 for s in res['status'])}/{res['n']}"
        cells_ = [label, f"{res['n']}", _fmt(rate), _fmt(3 * rate), _fmt(rate / peer_rate) if peer_rate else "-",
                  _fmt(rate / PROTOCOL_S), _fmt(res["compile_s"], ".1f"), steps, rej, ok,
                  f"{ac['counts_exact']}/{ac['n']}", f"{_fmt(ac.get('period_err_median'), '.1e')} / {_fmt(ac.get('period_err_max'), '.1e')}",
                  f"{ac.get('triphasic_mislabelled', '-')}/{ac['n']}", f"{ac.get('pyloric_like_mislabelled', '-')}/{ac['n']}",
                  f"{_fmt(ac['dV_median'], '.1e')} mV"]  # fmt: skip
        lines.append("| " + " | ".join(cells_) + " |")

    lines += [
        "",
        f"**Short window (stiffness)**: the first networks, {t_short / 1000:g} s from the warm start; error of the state at "
        f"{t_short / 1000:g} s and spike counts over [0, {t_short / 1000:g} s] against the reference.",
        "",
        "| solver | N | steps / network-s (mean) | rejected / network-s | network-s/s | neuron-s/s | compile (s) | max abs dV at end: median / max | spike counts exact |",
        "|" + "---|" * 9,
    ]
    for r in rows:
        if ROWS[r][2] != "short":
            continue
        res, label = results[r], ROWS[r][5]
        if "network_s_per_s" not in res:
            lines.append(f"| {label} | - | {res.get('skipped') or res.get('error') or '?'} |" + " |" * 6)
            continue
        ac = res["accuracy"]
        ok = sum(s == 0 for s in res["status"])
        bad = "" if ok == res["n"] else f" ({res['n'] - ok} failed: status {sorted(set(res['status']))})"
        lines.append("| " + " | ".join([
            label + bad, f"{res['n']}", f"{res['steps_per_network_s']:,.0f}" if "steps_per_network_s" in res else "-",
            f"{res['rejected_per_network_s']:,.0f}" if "rejected_per_network_s" in res else "-",
            _fmt(res["network_s_per_s"]), _fmt(3 * res["network_s_per_s"]), _fmt(res["compile_s"], ".1f"),
            f"{_fmt(ac['dV_median'], '.1e')} / {_fmt(ac['dV_max'], '.1e')} mV", f"{ac['counts_exact']}/{ac['n']}",
        ]) + " |")  # fmt: skip

    # equal-accuracy verdict: Tsit5 against the cheapest Kvaerno5 at least as accurate
    ts = results.get("tsit5-short", {})
    kv = [(r, results[r]) for r in rows if r.startswith("kvaerno5") and ROWS[r][2] == "short" and "accuracy" in results[r]]
    verdict = []
    if "accuracy" in ts and kv:
        e_t = ts["accuracy"]["dV_median"]
        at_least = [(r, x) for r, x in kv if x["accuracy"]["dV_median"] <= e_t]
        pick = max(at_least, key=lambda rx: rx[1]["network_s_per_s"]) if at_least else min(kv, key=lambda rx: rx[1]["accuracy"]["dV_median"])
        r, x = pick
        verdict.append(
            f"Equal accuracy (short window): {ROWS[r][5]} reaches median |dV| {x['accuracy']['dV_median']:.1e} mV "
            f"({'<=' if at_least else '>'} Tsit5's {e_t:.1e} mV) at {3 * x['network_s_per_s']:.3g} neuron-s/s against Tsit5's "
            f"{3 * ts['network_s_per_s']:.3g} ({x['network_s_per_s'] / ts['network_s_per_s']:.0f}x), with "
            f"{ts['steps_per_network_s'] / x['steps_per_network_s']:.0f}x fewer steps."
        )  # fmt: skip
        k6 = results.get("kvaerno5-short", {})
        if "accuracy" in k6 and r != "kvaerno5-short":
            verdict.append(
                f"At the same tolerance (rtol = atol = 1e-6) Kvaerno5 takes {ts['steps_per_network_s'] / k6['steps_per_network_s']:.0f}x "
                f"fewer steps than Tsit5 and runs {k6['network_s_per_s'] / ts['network_s_per_s']:.0f}x faster, with median |dV| "
                f"{k6['accuracy']['dV_median']:.1e} mV against Tsit5's {e_t:.1e} mV."
            )  # fmt: skip
        t9 = results.get("tsit5-1e-9-short", {})
        if "steps_per_network_s" in t9:
            verdict.append(f"Tsit5's step count is set by stability, not by its tolerance: rtol 1e-9 takes "
                           f"{t9['steps_per_network_s'] / ts['steps_per_network_s']:.1f}x the steps of rtol 1e-6.")  # fmt: skip

    lines += ["", "**Full grid** (20,250,000 networks x 11 s: Prinz protocol, 1 s transient + 10 s) at each main row's measured rate:", "",
              "| row | cores used | wall time on this machine | core-hours |", "|---|---|---|---|"]  # fmt: skip
    for r in rows + (["scipy-lsoda"] if "scipy-lsoda" in results and "scipy-lsoda" not in rows else []):
        res = results.get(r, {})
        if ROWS[r][2] != "main" or "network_s_per_s" not in res:
            continue
        cores = res.get("procs", res.get("devices", a.cores))
        hours = W.GRID_SIZE * PROTOCOL_S / res["network_s_per_s"] / 3600.0
        lines.append(f"| {ROWS[r][5]} | {cores} | {_hours(hours)} | {hours * cores:,.0f} |")

    kv_main, ee_main = results.get("kvaerno5", {}), results.get("expeuler", {})
    notes = ["", "Notes:"]
    notes.append(f"- Reference: jaxneuron `Kvaerno5(rtol=1e-10, atol=1e-10)`, work queue, {n_acc} networks x {t_end / 1000:g} s: "
                 f"mean {np.mean(ra['steps']) / (t_end / 1000):,.0f} steps per network-s, {ra.get('wall', float('nan')):.0f} s "
                 "(cached next to --out).")  # fmt: skip
    checks = [f"{ROWS[r][5].split(' (')[0]} {results[r]['accuracy']['dV_median']:.1e} mV" for r in ("tsit5-short", "tsit5-1e-9-short", "scipy-lsoda-1e-10-short")
              if "accuracy" in results.get(r, {})]  # fmt: skip
    if checks:
        notes[-1] += (f" Independent checks at {t_short / 1000:g} s (median |dV| against it): " + "; ".join(checks)
                      + " (Tsit5: explicit, same vector field; scipy: another method on a numpy vector field written from the spec).")  # fmt: skip
    if "triphasic" in kv_main and "triphasic" in ee_main:
        n = min(len(kv_main["triphasic"]), len(ee_main["triphasic"]))
        dt_ = sum(x != y for x, y in zip(kv_main["triphasic"][:n], ee_main["triphasic"][:n]))
        dp = sum(x != y for x, y in zip(kv_main["pyloric_like"][:n], ee_main["pyloric_like"][:n]))
        dper = [abs(x - y) / y for x, y in zip(ee_main["period"][:n], kv_main["period"][:n]) if x is not None and y is not None
                and not (math.isnan(x) or math.isnan(y))]  # fmt: skip
        notes.append(f"- ExpEuler(dt=0.025) against Kvaerno5 on all {n} main networks: triphasic differs for {dt_}, pyloric-like "
                     f"for {dp} (Kvaerno5: {sum(kv_main['triphasic'][:n])} triphasic, {sum(kv_main['pyloric_like'][:n])} "
                     f"pyloric-like); cycle period differs by median {_fmt(float(np.median(dper)) if dper else float('nan'), '.1e')} "
                     f"(relative) where both have one.")  # fmt: skip
    if "pyloric" in results and "skipped" in results["pyloric"]:
        notes.append(f"- pyloric row skipped: {results['pyloric']['skipped']}; the scipy loop is the peer.")
    if "network_s_per_s" in results.get("pyloric", {}):
        notes.append("- pyloric's model differs slightly from the spec's (its I_H tau with rounded constants, RT/2F = 12.1936 mV, "
                     "C = 0.6283 nF on a 0.628e-3 cm^2 area, and a forward-Euler synapse with s = s_inf when dt > tau_s), so its "
                     "error column mixes model and step-size error.")  # fmt: skip
    notes.append(f"- The main rows' jobs (N x {t_end / 1000:g} s) stay below `MIN_NEURON_SECONDS` (5,000 member-s) and compile for XLA's "
                 "thunk CPU runtime; no GPU was measured (none lent to this run).")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "cores": a.cores, "load_avg_at_end": os.getloadavg(), "quick": quick, "t_end_ms": t_end,
            "t_short_ms": t_short, "transient_ms": a.transient, "n_acc": n_acc, "seed": a.seed, "grid_members": idx.tolist(),
            "network_names": names, "command": "python scripts/bench_network " + " ".join(sys.argv[1:]), "total_wall_s": total_wall}  # fmt: skip
    notes.append(f"- Machine: {os.cpu_count()} CPUs, {a.cores} used per row; load average at the end "
                 f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (a shared machine: read the ratios); total wall {total_wall:.0f} s.")
    notes.append(f"- Command: `{meta['command']}`")
    md = "\n".join(lines + ([""] + verdict if verdict else []) + notes) + "\n"
    print("\n" + md)
    with open(a.out, "w") as f:
        f.write(md)
    with open(a.out + ".json", "w") as f:
        json.dump({"meta": meta, "setup": setup, "reference": {k: v for k, v in ref.items() if k not in ("spikes", "y", "y_small")},
                   "rows": {r: {k: v for k, v in res.items() if k not in ("spikes", "y")} for r, res in results.items()}},
                  f, indent=1, default=str)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
