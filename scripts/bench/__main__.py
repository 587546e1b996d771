"""jaxneuron benchmark: one invocation, one fresh process per engine and phase.

    python scripts/bench --quick --out bench_results          # minutes
    python scripts/bench --out bench_results                  # full: N = 10,000 for the fast JAX engines
    python scripts/bench --engines tsit5,expeuler-f64 --cores 1,2 --out bench_results

Workload (``workload.py``): Prinz 2003 neurons, a bursting base set (Prinz 2004 AB/PD 2) with each
conductance scaled by U[0.5, 1.5], 2 s of model time, final state kept. Throughput is in
neuron-seconds simulated per wall second, excluding compilation (reported separately). Accuracy:
spike counts (upward crossings of -10 mV) and burst period against a tight reference (diffrax
Dopri8, rtol = atol = 1e-11), on a subset of the benchmark sets and on the published Prinz cells,
simulated for ``--acc-t-end`` ms. Slow engines (scipy loop, Diffrax Kvaerno5, Brian2) are timed on a
small N and reported as throughput (it is linear in N for them). jaxneuron rows run
:func:`jaxneuron.simulate` on its default work-queue engine unless named ``diffrax-*``; the
``default`` row is ``simulate(model, t_end=...)`` with no other argument (Kvaerno5, V saved every
0.1 ms), the others keep the final state. Queue rows take their accuracy spikes from
``SaveAt(spikes=True)`` (located on each step's interpolant), Diffrax rows from a trace. Each
jaxneuron process uses every core it is pinned to with no flag (``import jaxneuron`` does it).
Writes ``bench.md`` and ``bench.json`` under ``--out``. The orchestrator never imports JAX; each
engine runs in a spawned interpreter.
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

# name: (kind, settings, N full, N quick). jax settings: "solver" (absent: simulate's default),
# "engine" ("queue", the default, or "diffrax"), "save" ("final": the final state only, the
# default for every timed row; "default": simulate's default SaveAt, V every 0.1 ms).
ENGINES = {
    "scipy-lsoda": ("scipy", {"method": "LSODA", "rtol": 1e-6, "atol": 1e-6}, 12, 2),
    "brian2-ee": ("brian2", {"dt": 0.025}, 2000, 200),
    "default": ("jax", {"save": "default"}, 10000, 500),
    "kvaerno5": ("jax", {"solver": "kvaerno5:rtol=1e-6,atol=1e-6"}, 10000, 500),
    "tsit5": ("jax", {"solver": "tsit5:rtol=1e-6,atol=1e-6"}, 10000, 1000),
    "tsit5-1e-8": ("jax", {"solver": "tsit5:rtol=1e-8,atol=1e-8"}, 10000, 1000),
    "diffrax-tsit5": ("jax", {"solver": "tsit5:rtol=1e-6,atol=1e-6", "engine": "diffrax"}, 10000, 200),
    "diffrax-kvaerno5": ("jax", {"solver": "kvaerno5:rtol=1e-6,atol=1e-6", "engine": "diffrax"}, 50, 10),
    "expeuler-f64": ("jax", {"solver": "expeuler:dt=0.025"}, 10000, 1000),
    "expeuler-f32": ("jax", {"solver": "expeuler:dt=0.025,dtype=float32"}, 10000, 1000),
    "expeuler-tab-f64": ("jax", {"solver": "expeuler:dt=0.025,tabulated=nearest"}, 10000, 1000),
    "expeuler-tab-f32": ("jax", {"solver": "expeuler:dt=0.025,dtype=float32,tabulated=nearest"}, 10000, 1000),
    "expeuler-tablin-f64": ("jax", {"solver": "expeuler:dt=0.025,tabulated=linear"}, 10000, 1000),
    "expeuler-tablin-f32": ("jax", {"solver": "expeuler:dt=0.025,dtype=float32,tabulated=linear"}, 10000, 1000),
    "diffrax-expeuler-f64": ("jax", {"solver": "expeuler:dt=0.025", "engine": "diffrax"}, 2000, 500),
}
DEFAULT_ENGINES = list(ENGINES)


def _parse():
    p = argparse.ArgumentParser(prog="python scripts/bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder for bench.md / bench.json")
    p.add_argument("--quick", action="store_true", help="small N everywhere (~15 minutes)")
    p.add_argument("--engines", default=",".join(DEFAULT_ENGINES), help=f"comma list from {list(ENGINES)}")
    p.add_argument("--cores", default="2", help="comma list of core counts to measure, e.g. 1,2")
    p.add_argument("--n", action="append", default=[], metavar="ENGINE=N", help="override N for an engine")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per engine (default 2 quick, 1 full)")
    p.add_argument("--t-end", type=float, default=2000.0, help="model time of the timed runs (ms)")
    p.add_argument("--acc-t-end", type=float, default=4000.0, help="model time of the accuracy runs (ms)")
    p.add_argument("--n-acc", type=int, default=None, help="benchmark sets in the accuracy subset (default 8 quick, 32 full)")
    p.add_argument("--no-accuracy", action="store_true", help="throughput only")
    p.add_argument("--brian2-python", default=os.environ.get("BENCH_BRIAN2_PYTHON", sys.executable),
                   help="interpreter with brian2 installed (default: this one)")  # fmt: skip
    p.add_argument("--compile-cache", default=None, help="JAX persistent compilation cache dir (default: off, cold compiles)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=3600.0, help="per-process timeout (s)")
    return p.parse_args()


def _spawn(job, python, tmp, label):
    return spawn(job, python, tmp, label, os.path.join(HERE, "engines.py"), tag="bench", default_timeout=3600)


def _throughput(res, t_end):
    walls, compiles = res["walls"], res["compiles"]
    runs = walls[1:] if len(walls) > 1 else [walls[0] - compiles[0]]
    rates = [res["n"] * t_end / 1000.0 / w for w in runs]
    return float(np.median(rates)), float(min(rates)), float(max(rates))


def _fmt(x, spec=".3g"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def main():
    a = _parse()
    os.makedirs(a.out, exist_ok=True)
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        sys.exit(f"unknown engine(s) {unknown}; known: {list(ENGINES)}")
    cores_list = [int(c) for c in a.cores.split(",")]
    overrides = dict(kv.split("=") for kv in a.n)
    repeats = a.repeats if a.repeats is not None else (2 if a.quick else 1)
    n_acc = a.n_acc if a.n_acc is not None else (8 if a.quick else 32)
    n_max = max(int(overrides.get(e, ENGINES[e][3 if a.quick else 2])) for e in engines)

    names, published = W.published_sets()
    scaled = W.scaled_sets(max(n_max, n_acc), seed=a.seed)
    acc = np.concatenate([scaled[:n_acc], published])
    tmp = tempfile.mkdtemp(prefix="jaxneuron_bench_")
    sets_path = os.path.join(tmp, "sets.npz")
    np.savez(sets_path, scaled=scaled, acc=acc)
    base = {"sets": sets_path, "t_end": a.t_end, "acc_t_end": a.acc_t_end, "acc_index": list(range(len(acc))),
            "compile_cache": a.compile_cache, "timeout": a.timeout}  # fmt: skip

    reference = None
    if not a.no_accuracy:
        key = hashlib.sha1(acc.tobytes() + str(a.acc_t_end).encode()).hexdigest()[:12]
        ref_path = os.path.join(a.out, f"reference_{key}.json")
        if os.path.exists(ref_path):
            with open(ref_path) as f:
                reference = json.load(f)
            print(f"[bench] reference from cache {ref_path}")
        else:
            reference = _spawn(dict(base, kind="reference", set_key="acc", cores=max(cores_list), phase="accuracy"),
                               sys.executable, tmp, "reference")  # fmt: skip
            if "error" in reference:
                sys.exit(f"reference failed: {reference['error']}")
            with open(ref_path, "w") as f:
                json.dump(reference, f)

    rows = []
    for e in engines:
        kind, settings, n_full, n_quick = ENGINES[e]
        n = int(overrides.get(e, n_quick if a.quick else n_full))
        python = a.brian2_python if kind == "brian2" else sys.executable
        row = {"engine": e, "kind": kind, "settings": settings}
        acc_res = None
        if not a.no_accuracy:
            acc_res = _spawn(dict(base, **settings, kind=kind, name=e, set_key="acc", cores=max(cores_list), phase="accuracy"),
                             python, tmp, f"{e}.accuracy")  # fmt: skip
            if "skipped" in acc_res or "error" in acc_res:
                row["accuracy_error"] = acc_res.get("skipped") or acc_res.get("error")
            else:
                ref, got = reference["spikes"], acc_res["spikes"]
                row["acc_bench"] = W.compare(got[:n_acc], ref[:n_acc])
                row["acc_published"] = W.compare(got[n_acc:], ref[n_acc:])
                row["published_mismatch"] = [nm for nm, x, y in zip(names, got[n_acc:], ref[n_acc:]) if len(x) != len(y)]
        for cores in cores_list:
            res = _spawn(dict(base, **settings, kind=kind, name=e, set_key="scaled", cores=cores, n=n, repeats=repeats,
                              phase="speed"), python, tmp, f"{e}.speed.{cores}c")  # fmt: skip
            r = dict(row, cores=cores, n=n, result=res)
            if "walls" in res:
                r["throughput"], r["throughput_min"], r["throughput_max"] = _throughput(res, a.t_end)
                r["compile_s"] = res["compiles"][0]
            rows.append(r)
            print(f"[bench] {e} {cores} core(s): {_fmt(r.get('throughput'))} neuron-s/s", flush=True)

    scipy_rate = {r["cores"]: r["throughput"] for r in rows if r["engine"] == "scipy-lsoda" and "throughput" in r}
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "quick": a.quick, "t_end_ms": a.t_end, "acc_t_end_ms": a.acc_t_end, "n_acc": n_acc,
        "n_published": len(names), "repeats": repeats, "seed": a.seed, "command": " ".join(sys.argv),
        "reference": "diffrax Dopri8 rtol=atol=1e-11 (jaxneuron vector field), V sampled every 0.0125 ms",
    }  # fmt: skip
    lines = [
        "| engine | cores | N timed | neuron-s/s (median [min-max]) | x scipy | compile s | peak RSS MB | steps mean/max "
        "| bench sets: spike counts exact | period err median / max | within 0.1 % | published cells: counts exact | period err max |",
        "|" + "---|" * 13,
    ]
    for r in rows:
        res = r["result"]
        if "throughput" not in r:
            why = res.get("skipped") or res.get("error") or "?"
            lines.append(f"| {r['engine']} | {r['cores']} | - | skipped: {why} |" + " |" * 9)
            continue
        ab, ap = r.get("acc_bench"), r.get("acc_published")
        xs = r["throughput"] / scipy_rate[r["cores"]] if r["cores"] in scipy_rate else None
        steps = f"{res['steps_mean']:.0f}/{res['steps_max']:.0f}" if "steps_mean" in res else "-"
        cells = [
            r["engine"], str(r["cores"]), str(res["n"]),
            f"{r['throughput']:.3g} [{r['throughput_min']:.3g}-{r['throughput_max']:.3g}]", _fmt(xs),
            _fmt(r["compile_s"], ".1f"), _fmt(res["peak_rss_mb"], ".0f"), steps,
        ]  # fmt: skip
        if ab:
            cells += [f"{ab['spike_counts_exact']}/{ab['n']}", f"{_fmt(ab['period_err_median'], '.1e')} / {_fmt(ab['period_err_max'], '.1e')}",
                      f"{ab['period_within_0.1pct']}/{ab['n_with_period']}", f"{ap['spike_counts_exact']}/{ap['n']}",
                      _fmt(ap["period_err_max"], ".1e")]  # fmt: skip
        else:
            cells += [r.get("accuracy_error", "-")] + ["-"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "", f"Workload: Prinz 2003, AB/PD 2 conductances x U[0.5,1.5] (seed {a.seed}), {a.t_end:g} ms, final state only, "
        f"float64 unless the engine says f32. Accuracy: {n_acc} benchmark sets + {len(names)} published cells, "
        f"{a.acc_t_end:g} ms, against {meta['reference']}.",
    ]  # fmt: skip
    for r in rows:
        if r.get("published_mismatch"):
            notes.append(f"- {r['engine']}: spike count differs from the reference for {', '.join(r['published_mismatch'])}")
    md = "\n".join(lines + notes) + "\n"
    print("\n" + md)
    with open(os.path.join(a.out, "bench.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "bench.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
