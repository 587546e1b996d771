"""XLA CPU runtime per compiled program (jaxneuron.solvers.runtime): the measured choice per
solver and engine, the size threshold, and the same results on either runtime."""

import jax
import numpy as np
import pytest

import jaxneuron as jn
from jaxneuron.solvers import runtime


def test_choice_follows_the_measurements():
    prefers = runtime.prefers_classic_cpu
    assert prefers(jn.Tsit5(), "queue") and prefers(jn.Kvaerno5(), "queue")
    assert not prefers(jn.Tsit5(), "vmap") and not prefers(jn.Kvaerno5(), "vmap")  # vmapped Diffrax: thunk
    assert prefers(jn.ExpEuler()) and not prefers(jn.ExpEuler(dtype="float32"))
    assert not prefers(jn.ExpEuler(tabulated=True)) and not prefers(jn.ExpEuler(fast=False))
    # only jobs large enough to pay for the slower compile
    assert runtime.use_classic_cpu(jn.Tsit5(), "queue", 10_000.0)
    assert not runtime.use_classic_cpu(jn.Tsit5(), "queue", 100.0)
    assert runtime.use_classic_cpu(jn.ExpEuler(), "vmap", 500.0) and not runtime.use_classic_cpu(jn.ExpEuler(), "vmap", 50.0)
    assert not runtime.use_classic_cpu(jn.Kvaerno5(), "vmap", 1e9)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the classic runtime is a CPU option")
def test_classic_runtime_gives_the_same_results(monkeypatch):
    assert runtime.classic_cpu_available()  # the pinned jaxlib has it
    model = jn.Prinz2003.from_conductances([jn.PRINZ2003_SETS["fig2c_bursting"], jn.PRINZ2003_SETS["ptm2003_tonic"]])

    def solve():
        spikes = jn.simulate_spikes(model, t_end=400.0, solver=jn.Tsit5(rtol=1e-8, atol=1e-8))
        trace = jn.simulate(model, t_end=100.0, solver=jn.ExpEuler(dt=0.025), save=jn.SaveAt(dt=1.0))
        return spikes, trace

    default = solve()  # 0.8 neuron-seconds: below both thresholds, the default runtime
    monkeypatch.setitem(runtime.MIN_NEURON_SECONDS, "queue", 0.0)
    monkeypatch.setitem(runtime.MIN_NEURON_SECONDS, "vmap", 0.0)
    classic = solve()
    np.testing.assert_array_equal(np.asarray(classic[0].n_spikes), np.asarray(default[0].n_spikes))
    assert int(np.asarray(default[0].n_spikes).min()) >= 2 and int(np.asarray(default[0].n_spikes).sum()) >= 10
    # the two runtimes may round differently (fusion, contraction): equal to far below the tolerances
    np.testing.assert_allclose(np.asarray(classic[0].times), np.asarray(default[0].times), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(classic[1].V), np.asarray(default[1].V), rtol=0, atol=1e-8)
