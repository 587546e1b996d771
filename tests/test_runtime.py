"""XLA CPU runtime per compiled program (jaxneuron.solvers.runtime.runtime_jit).

What is checked is what XLA itself reports, not the choice table of runtime.py: a fresh
interpreter compiles real solver programs through ``runtime_jit`` once with ``classic`` false and
once true while XLA dumps what it compiled (``--xla_dump_to``). The dump shows the debug options
each program was compiled with and its LLVM code: on the classic runtime the whole program is one
native entry function, on the default (thunk) runtime every fused kernel is a separate function.
The solutions of both programs are compared with each other and with a tight scipy solve of the
independent numpy model (reference_models.py).
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import jaxneuron as jn
from reference_models import prinz_rhs, prinz_steady, reference_spike_times, solve_reference, upward_crossings

SETS = ("fig2c_bursting", "ptm2003_tonic")  # a burster and a tonic spiker
T_END = 400.0

PROBE = r"""
import json, sys
import numpy as np
import jaxneuron as jn
from jaxneuron.solvers.runtime import CLASSIC_CPU, classic_cpu_available, runtime_jit

out_dir = sys.argv[1]
sets = sys.argv[2].split(",")
T_END = float(sys.argv[3])
model = jn.Prinz2003.from_conductances(np.array([jn.PRINZ2003_SETS[s] for s in sets]))


def program(name, body):
    def fn(m, classic):  # ``classic``: a static Python bool, the per-call choice (as the package passes it)
        return body(m)

    fn.__name__ = name  # XLA names the program jit_<name>
    return runtime_jit(fn, classic=lambda m, classic: classic)


programs = {  # the default engine (work queue) with spikes, the vmapped Diffrax engine, ExpEuler's fixed-step scan
    "queue_tsit5": program("queue_tsit5", lambda m: jn.simulate(
        m, t_end=T_END, solver=jn.Tsit5(rtol=1e-10, atol=1e-10), save=jn.SaveAt(save_dt=1.0, spikes=True))),
    "diffrax_tsit5": program("diffrax_tsit5", lambda m: jn.simulate(
        m, t_end=T_END, solver=jn.Tsit5(rtol=1e-10, atol=1e-10), save=jn.SaveAt(save_dt=1.0),
        engine=jn.DiffraxEngine())),
    "queue_expeuler": program("queue_expeuler", lambda m: jn.simulate(
        m, t_end=T_END, solver=jn.ExpEuler(dt=0.005), save=jn.SaveAt(save_dt=0.005))),
}
results = {}
for name, fn in programs.items():
    for runtime in ("default", "classic"):  # compile order: default first, then classic
        sol = fn(model, runtime == "classic")
        results[f"{name}_{runtime}_V"] = np.asarray(sol.V)
        results[f"{name}_{runtime}_status"] = np.asarray(sol.status)
        if sol.spike_times is not None:
            results[f"{name}_{runtime}_times"] = np.asarray(sol.spike_times)
            results[f"{name}_{runtime}_count"] = np.asarray(sol.n_spikes)
np.savez(out_dir + "/results.npz", **results)
with open(out_dir + "/info.json", "w") as f:
    json.dump({"classic_cpu_available": classic_cpu_available(), "CLASSIC_CPU": CLASSIC_CPU}, f)
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    d = tmp_path_factory.mktemp("runtime")
    dump = d / "xla_dump"
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + f" --xla_dump_to={dump}").strip())  # fmt: skip
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"  # a cache hit would compile (and dump) nothing
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    r = subprocess.run([sys.executable, "-c", PROBE, str(d), ",".join(SETS), str(T_END)],
                       env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-4000:]
    with open(d / "info.json") as f:
        info = json.load(f)
    return dict(np.load(d / "results.npz")), info, str(dump)


def compiled_modules(dump, name):
    """The files XLA dumped for each compilation of the program ``jit_<name>``, in compile order."""
    modules = {}
    for f in os.listdir(dump):
        m = re.match(rf"module_(\d+)\.jit_{name}\.(.+)$", f)
        if m:
            modules.setdefault(int(m.group(1)), {})[m.group(2)] = os.path.join(dump, f)
    return [modules[k] for k in sorted(modules)]


def read(path):
    with open(path) as f:
        return f.read()


ENTRY = re.compile(r"^define void @main[.\d]*\(ptr %retval, ptr noalias %run_options", re.M)
KERNEL = re.compile(r"^define ptr @\S+\(ptr %0\)", re.M)


PROGRAMS = ["queue_tsit5", "diffrax_tsit5", "queue_expeuler"]


@pytest.mark.parametrize("name", PROGRAMS)
def test_classic_programs_are_compiled_for_the_classic_runtime(probe, name):
    _, info, dump = probe
    assert info["classic_cpu_available"]  # the pinned jaxlib accepts the option
    modules = compiled_modules(dump, name)
    assert len(modules) == 2, [sorted(m) for m in modules]  # one compilation per runtime
    default, classic = modules
    # the debug options XLA compiled each program with
    options = read(classic["debug_options"])
    for key, value in info["CLASSIC_CPU"].items():
        assert re.search(rf"^{key}: {str(value).lower()}$", options, re.M), options
    assert "xla_cpu_use_thunk_runtime" not in read(default["debug_options"])
    # what was compiled: classic = one LLVM module whose entry function runs the whole program
    ir = [k for k in classic if k.endswith("ir-no-opt.ll")]
    assert len(ir) == 1 and len(ENTRY.findall(read(classic[ir[0]]))) == 1
    assert not KERNEL.search(read(classic[ir[0]]))
    # default (thunk) runtime: no whole-program entry, many separately launched kernels
    ir = [read(p) for k, p in default.items() if k.endswith("ir-no-opt.ll")]
    assert not any(ENTRY.search(text) for text in ir)
    assert sum(len(KERNEL.findall(text)) for text in ir) >= 10


@pytest.fixture(scope="module")
def reference():
    """Tight scipy solve of each member: V every 1 ms and the spike times (-10 mV upward)."""
    out = []
    for s in SETS:
        g = np.array(jn.PRINZ2003_SETS[s])
        y0 = prinz_steady(g)
        _, Y = solve_reference(prinz_rhs, y0, T_END, np.arange(0.0, T_END + 0.5, 1.0), args=(g,))
        out.append((Y[0], reference_spike_times(prinz_rhs, y0, T_END, args=(g,))))
    return out


@pytest.mark.parametrize("name", PROGRAMS)
def test_both_runtimes_give_the_same_solution(probe, name):
    res, _, _ = probe
    for runtime in ("default", "classic"):
        np.testing.assert_array_equal(res[f"{name}_{runtime}_status"], 0)
    # the two runtimes may round differently (fusion, contraction): equal to far below the tolerances
    np.testing.assert_allclose(res[f"{name}_classic_V"], res[f"{name}_default_V"], rtol=0, atol=1e-9)
    if f"{name}_default_times" in res:
        np.testing.assert_array_equal(res[f"{name}_classic_count"], res[f"{name}_default_count"])
        np.testing.assert_allclose(res[f"{name}_classic_times"], res[f"{name}_default_times"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["queue_tsit5", "diffrax_tsit5"])
def test_tsit5_traces_match_scipy(probe, reference, name):
    V = probe[0][f"{name}_default_V"]
    for i, (V_ref, spikes) in enumerate(reference):
        assert spikes.size >= 2  # the traces cross spikes, where errors show most
        np.testing.assert_allclose(V[i], V_ref, rtol=0, atol=2e-3, err_msg=SETS[i])  # max 5e-4 mV seen


def test_queue_spike_times_match_scipy(probe, reference):
    res, _, _ = probe
    for i, (_, ref) in enumerate(reference):
        n = int(res["queue_tsit5_default_count"][i])
        assert n == ref.size >= 2, SETS[i]
        times = res["queue_tsit5_default_times"][i]
        np.testing.assert_allclose(times[:n], ref, rtol=0, atol=1e-4, err_msg=SETS[i])  # max 9e-6 ms seen
        assert np.all(np.isnan(times[n:]))


def test_expeuler_spike_times_match_scipy(probe, reference):
    V = probe[0]["queue_expeuler_default_V"]
    t = 0.005 * np.arange(V.shape[-1])
    window = 375.0  # no reference spike within 15 ms of its end
    for i, (_, ref) in enumerate(reference):
        ref = ref[ref < window]
        spikes = upward_crossings(t, V[i])
        spikes = spikes[spikes < window]
        assert spikes.size == ref.size >= 2, SETS[i]
        # first-order scheme at dt = 5 us: the spikes drift by up to ~0.6 ms over 375 ms (0.15 %)
        np.testing.assert_allclose(spikes, ref, rtol=2e-3, atol=0.1, err_msg=SETS[i])
