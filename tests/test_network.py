"""Networks: synapses against the spec formulas, the network against single cells and an
independent scipy solve written from ../shared/spec/models.md section 3."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuron as jn
from reference_models import AREA_CM2, PYLORIC_SYNAPSE_TABLE, prinz_rhs, prinz_steady, pyloric_rhs

CELLS = jn.PRINZ2004_CELLS


def _reference_state(net_y, shared):
    """jaxneuron's network state (border first, 4 shared s) -> the reference layout (3 x 13 per
    cell, then one s per synapse)."""
    y = np.asarray(net_y)
    cells = []
    for c in range(3):
        cells.append(np.concatenate([y[2 * c : 2 * c + 2], y[6 + 11 * c : 6 + 11 * c + 11]]))
    s = y[39:]
    return np.concatenate(cells + [s[list(shared)]])


# synapse k of PYLORIC_SYNAPSES -> its shared state: glut(AB/PD), chol(AB/PD), glut(LP), glut(PY)
SHARED = (0, 1, 0, 1, 2, 2, 3)


def test_synapse_rates_match_the_spec_tau_form():
    V = np.linspace(-90.0, 45.0, 271)
    for syn in (jn.GradedSynapse.glutamatergic("a", "b", 3.0), jn.GradedSynapse.cholinergic("a", "b", 3.0)):
        A, B = syn.rates(jnp.asarray(V))
        s = np.linspace(0.0, 1.0, V.size)
        s_inf = 1.0 / (1.0 + np.exp((-35.0 - V) / 5.0))
        k_minus = 1 / 40 if syn.transmitter == "glutamate" else 1 / 100
        tau = (1.0 - s_inf) / k_minus
        np.testing.assert_allclose(np.asarray(A - B * s), (s_inf - s) / tau, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(np.asarray(syn.s_inf(jnp.asarray(V))), s_inf, rtol=1e-14)
        E = -70.0 if syn.transmitter == "glutamate" else -80.0
        np.testing.assert_allclose(np.asarray(syn.current(0.3, jnp.asarray(V))), 3.0 * 0.3 * (V - E), rtol=1e-14)


def test_network_vector_field_matches_reference_pointwise():
    rng = np.random.default_rng(1)
    names = ("AB/PD 1", "LP 3", "PY 2")
    syn = rng.uniform(0, 100, 7)
    net = jn.Pyloric2004(*names, *syn)
    for _ in range(5):
        y = np.asarray(net.default_y0()) + 0.0
        y[[0, 2, 4]] = rng.uniform(-80, 30, 3)  # V
        y[[1, 3, 5]] = rng.uniform(0.05, 5, 3)  # Ca
        y[6:39] = rng.uniform(0, 1, 33)
        y[39:] = rng.uniform(0, 1, 4)
        f = np.asarray(net.vector_field(0.0, jnp.asarray(y)))
        y_ref = _reference_state(y, SHARED)
        f_ref = np.asarray(pyloric_rhs(0.0, y_ref, [np.array(CELLS[n]) for n in names], syn))
        np.testing.assert_allclose(_reference_state(f, SHARED)[:39], f_ref[:39], rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(f[39:][list(SHARED)], f_ref[39:], rtol=1e-9, atol=1e-12)
        # the per-area conversion of spec 3.2: 1 nS on 0.628e-3 cm^2 = 1.592e-3 mS/cm^2
        assert abs(1e-6 / AREA_CM2 - 1.592e-3) < 1e-6


def test_border_rows_are_the_linear_form_rows():
    net = jn.Pyloric2004(g_LP_PD=jnp.array([0.0, 10.0, 100.0]))
    y = net.default_y0().at[39:].set(0.4)
    A, B = net.linear_form(y, 0.3)
    Ab, Bb = net.border_rows(y, 0.3)
    np.testing.assert_allclose(np.asarray(Ab), np.asarray(A[..., :6]), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(Bb), np.asarray(B[..., :6]), rtol=1e-15)
    assert A.shape == (3, 43)


def test_one_cell_network_equals_the_cell():
    cell = jn.Prinz2003.from_conductances(jnp.array(CELLS["AB/PD 2"]))
    net = jn.Network({"X": cell})
    assert net.state_names == tuple(f"X.{n}" for n in cell.state_names)
    a = jn.simulate(cell, t_end=800.0, stimulus=0.2)
    b = jn.simulate(net, t_end=800.0, stimulus=0.2)
    np.testing.assert_allclose(np.asarray(b.V), np.asarray(a.V), rtol=0, atol=1e-9)
    assert b.V.shape == a.V.shape


def test_shared_synaptic_states_equal_one_state_per_synapse():
    """The 4-state reduction of spec 3.2 against the same network with every synapse its own
    state (distinct transmitter labels, same kinetics)."""
    net = jn.Pyloric2004("AB/PD 3", "LP 1", "PY 4", 10.0, 30.0, 3.0, 10.0, 30.0, 3.0, 10.0)
    assert len(net.state_names) == 43
    separate = jn.Network(
        dict(zip(net.cell_names, net.cells)),
        [jn.GradedSynapse(pre=s.pre, post=s.post, g=s.g, E_s=s.E_s, k_minus=s.k_minus, transmitter=f"{s.transmitter}{k}")
         for k, s in enumerate(net.synapses)],
    )  # fmt: skip
    assert len(separate.state_names) == 46
    rng = np.random.default_rng(3)
    for _ in range(4):  # pointwise: equal vector fields where each synapse's s is its group's
        y = net.default_y0().at[:39].add(rng.uniform(-0.01, 0.01, 39)).at[39:].set(rng.uniform(0, 1, 4))
        y = y.at[jnp.array([0, 2, 4])].set(rng.uniform(-70, 30, 3))
        y_sep = jnp.concatenate([y[:39], y[39:][jnp.array(SHARED)]])
        f, f_sep = net.vector_field(0.0, y), separate.vector_field(0.0, y_sep)
        np.testing.assert_allclose(np.asarray(f[:39]), np.asarray(f_sep[:39]), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(np.asarray(f[39:][jnp.array(SHARED)]), np.asarray(f_sep[39:]), rtol=1e-13)
    # and along a solution (fixed steps: the same discrete scheme on both)
    y0 = net.default_y0()
    y0_sep = jnp.concatenate([y0[:39], jnp.zeros(7)])
    solver = jn.ExpEuler(dt=0.025)
    a = jn.simulate(net, t_end=400.0, y0=y0, save=jn.SaveAt(states="all", save_dt=1.0), solver=solver)
    b = jn.simulate(separate, t_end=400.0, y0=y0_sep, save=jn.SaveAt(states="all", save_dt=1.0), solver=solver)
    assert float(jnp.max(a.V)) > 0.0  # spikes happened
    np.testing.assert_allclose(np.asarray(a.V), np.asarray(b.V), rtol=0, atol=1e-8)
    np.testing.assert_allclose(np.asarray(a.ys[:, 39:][:, list(SHARED)]), np.asarray(b.ys[:, 39:]), rtol=0, atol=1e-10)


def test_gap_junction_currents():
    cells = {"a": jn.HodgkinHuxley(), "b": jn.HodgkinHuxley(area=2e-3)}
    y = jnp.array([-60.0, -40.0, 0.1, 0.2, 0.6, 0.5, 0.3, 0.4])  # V_a, V_b, then gates
    free = jn.Network(cells).vector_field(0.0, y)
    for rectifying in (False, True):
        net = jn.Network(cells, gap_junctions=[jn.GapJunction(a="a", b="b", g=5.0, rectifying=rectifying)])
        d = np.asarray(net.vector_field(0.0, y) - free)
        g = 0.0 if rectifying else 5.0  # V_a < V_b: a rectifying a -> b junction is closed
        # into b: g (V_a - V_b) per area of b (C = 1 uF/cm^2); into a the opposite
        np.testing.assert_allclose(d[1], g * 1e-6 / 2e-3 * (-60.0 + 40.0), rtol=1e-11)
        np.testing.assert_allclose(d[0], g * 1e-6 / 0.628e-3 * (-40.0 + 60.0), rtol=1e-11)
        np.testing.assert_allclose(d[2:], 0.0)
    y2 = y.at[0].set(-20.0)
    net = jn.Network(cells, gap_junctions=[jn.GapJunction(a="a", b="b", g=5.0, rectifying=True)])
    d = np.asarray(net.vector_field(0.0, y2) - jn.Network(cells).vector_field(0.0, y2))
    np.testing.assert_allclose(d[1], 5.0 * 1e-6 / 2e-3 * (-20.0 + 40.0), rtol=1e-11)


def test_mixed_cell_kinds_and_state_names():
    net = jn.Network({"hh": jn.HodgkinHuxley(), "stg": jn.Prinz2003()},
                     [jn.GradedSynapse.glutamatergic("hh", "stg", 10.0)])  # fmt: skip
    assert net.n_border == 3 and net.voltage_states == (0, 1)
    assert net.state_names[:3] == ("hh.V", "stg.V", "stg.Ca")
    assert net.state_names[-1] == "hh.s_glutamate"
    sol = jn.simulate(net, t_end=50.0, stimulus=10.0, save=jn.SaveAt(spikes=True))
    assert sol.V.shape == (2, 501) and int(sol.status) == 0
    assert int(sol.n_spikes[0]) >= 3  # the HH cell fires under 10 uA/cm^2


def test_bad_input_errors():
    with pytest.raises(ValueError, match="unknown cell 'LP 9' for lp; valid names: .*'LP 5'"):
        jn.Pyloric2004(lp="LP 9")
    with pytest.raises(ValueError, match="g_PY_LP.*GradedSynapse.g must be finite and >= 0 nS"):
        jn.Pyloric2004(g_PY_LP=-1.0)
    with pytest.raises(ValueError, match="post cell 'PD' is not in the network"):
        jn.Network({"AB": jn.Prinz2003()}, [jn.GradedSynapse.glutamatergic("AB", "PD", 1.0)])
    with pytest.raises(ValueError, match="cell 'c' is not in the network"):
        jn.Network({"a": jn.Prinz2003(), "b": jn.Prinz2003()}, gap_junctions=[jn.GapJunction(a="a", b="c", g=1.0)])
    with pytest.raises(ValueError, match="batch shapes do not broadcast.*synapse AB/PD->LP"):
        jn.Pyloric2004(ab_pd=np.ones((3, 8)), g_AB_LP=np.ones(4))
    with pytest.raises(ValueError, match="share one state and must have the same k_minus"):
        jn.Network({"a": jn.Prinz2003(), "b": jn.Prinz2003()},
                   [jn.GradedSynapse.glutamatergic("a", "b", 1.0), jn.GradedSynapse.glutamatergic("a", "a", 1.0, k_minus=0.1)])  # fmt: skip


def _random_networks(n, seed):
    rng = np.random.default_rng(seed)
    pick = lambda prefix, k: np.array([CELLS[f"{prefix} {i}"] for i in rng.integers(1, k + 1, n)])  # noqa: E731
    syn = {f: rng.choice([0.0, 1.0, 3.0, 10.0, 30.0, 100.0], n) for f, *_ in jn.PYLORIC_SYNAPSES}
    return jn.Pyloric2004(ab_pd=pick("AB/PD", 5), lp=pick("LP", 5), py=pick("PY", 6), **syn)


def _member(tree, i):
    return jax.tree_util.tree_map(lambda x: x[i] if eqx_is_array(x) and jnp.ndim(x) >= 1 else x, tree)


def eqx_is_array(x):
    return isinstance(x, (jax.Array, np.ndarray))


@pytest.mark.slow
def test_batch_of_1000_networks_equals_a_loop():
    """1,000 random grid networks in one batch against one-network solves of every 10th (each
    loop call costs ~0.5 s of per-call work, so the loop covers 100 of them)."""
    net = _random_networks(1000, seed=11)
    assert net.batch_shape == (1000,)
    y0 = net.default_y0()
    save = jn.SaveAt(save_dt=1.0, spikes=True)
    batch = jn.simulate(net, t_end=60.0, y0=y0, save=save)
    assert np.all(np.asarray(batch.status) == 0)
    for i in range(0, 1000, 10):
        one = jn.simulate(_member(net, i), t_end=60.0, y0=y0, save=save)
        np.testing.assert_allclose(np.asarray(one.V), np.asarray(batch.V[i]), rtol=0, atol=1e-9)
        np.testing.assert_array_equal(np.asarray(one.n_spikes), np.asarray(batch.n_spikes[i]))


# --- against an independent scipy solve (spec 3.5 warm start, spec 3.6 features) ----------------

REFERENCE_NETWORKS = {
    # two networks found pyloric-like from the warm start in a search of 256 random grid networks
    "pyloric_A": (("AB/PD 3", "LP 2", "PY 4"), (3.0, 3.0, 0.0, 3.0, 30.0, 1.0, 30.0), True),
    "pyloric_B": (("AB/PD 5", "LP 3", "PY 3"), (3.0, 3.0, 3.0, 30.0, 30.0, 0.0, 30.0), True),
    # xolotl's "Fig. 2e" network: from a 20 s warm start LP fires tonically and AB/PD stays silent
    "fig2e": (("AB/PD 2", "LP 4", "PY 1"), (30.0, 30.0, 10.0, 3.0, 30.0, 1.0, 30.0), False),
}


def _scipy_network(cells, syn, t_settle, t_end, dt):
    from scipy.integrate import solve_ivp

    cell_g = [np.array(CELLS[c]) for c in cells]
    settled = []
    for g in cell_g:
        s = solve_ivp(prinz_rhs, (0.0, t_settle), prinz_steady(g), method="LSODA", rtol=1e-10, atol=1e-10, args=(g,))
        assert s.success
        settled.append(s.y[:, -1])
    y0 = np.concatenate(settled + [np.zeros(7)])
    t = np.arange(0.0, t_end + dt / 2, dt)
    s = solve_ivp(pyloric_rhs, (0.0, t_end), y0, method="LSODA", rtol=1e-10, atol=1e-10, args=(cell_g, syn), t_eval=t)
    assert s.success
    return np.concatenate(settled), t, s.y[[0, 13, 26]]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REFERENCE_NETWORKS))
def test_pyloric_networks_against_scipy(name):
    import reference_rhythm as rr

    cells, syn, pyloric = REFERENCE_NETWORKS[name]
    t_settle, t_end, transient, dt = 20000.0, 8000.0, 1000.0, 0.025
    settled, t_ref, V_ref = _scipy_network(cells, syn, t_settle, t_end, dt)
    ref = rr.rhythm([rr.peak_times(t_ref, v, t_start=transient) for v in V_ref], transient, t_end)

    net = jn.Pyloric2004(*cells, *syn)
    y0 = net.warm_start(t_settle)
    for c in range(3):  # the warm start: each cell's settled V (mV) and Ca (uM) after 20 s of bursting
        got_c = np.asarray(net.cell_state(y0, c))
        assert abs(got_c[0] - settled[13 * c]) < 1.0 and abs(got_c[1] / settled[13 * c + 1] - 1.0) < 0.01
    sol = jn.simulate(net, t_end=t_end, y0=y0, save=jn.SaveAt(save_dt=dt, spikes=True))
    got = jn.pyloric_features(sol.t, sol.V, transient=transient)
    # the on-device features of this simulated trace equal the numpy reference on the same trace
    same = rr.rhythm([rr.peak_times(np.asarray(sol.t), v, t_start=transient) for v in np.asarray(sol.V)], transient, t_end)
    np.testing.assert_array_equal(np.asarray(got.n_spikes), same["n_spikes"])
    assert bool(got.triphasic) == bool(same["triphasic"]) and bool(got.pyloric_like) == bool(same["pyloric_like"])
    np.testing.assert_allclose(float(got.cycle_period), same["cycle_period"], rtol=1e-9)
    assert bool(got.triphasic) == bool(ref["triphasic"]) and bool(got.pyloric_like) == bool(ref["pyloric_like"]) == pyloric
    np.testing.assert_array_equal(np.asarray(got.n_spikes), ref["n_spikes"])
    if pyloric:
        assert abs(float(got.cycle_period) / ref["cycle_period"] - 1.0) < 0.005
        np.testing.assert_allclose(np.asarray(got.burst_durations), ref["burst_durations"], rtol=0.005)
    else:
        assert np.isnan(float(got.cycle_period)) and np.isnan(ref["cycle_period"])


@pytest.mark.slow
def test_gradient_of_the_smoothed_cycle_period_matches_finite_differences():
    """Reverse mode through ExpEuler's fixed-step scan (exact for the discrete scheme) of the
    slow-wave cycle period of AB/PD with respect to the LP -> PD synapse strength."""
    from jaxneuron.analysis.smooth import smooth_cycle_period

    y0 = jn.Pyloric2004().warm_start(1000.0)

    def period(g):
        sol = jn.simulate(jn.Pyloric2004(g_LP_PD=g), t_end=6000.0, y0=y0, save=jn.SaveAt(save_dt=0.5, transient=500.0),
                          solver=jn.ExpEuler(dt=0.025))  # fmt: skip
        return smooth_cycle_period(sol.t, sol.V[0])

    value, grad = jax.value_and_grad(period)(30.0)
    assert 1700.0 < float(value) < 1900.0 and np.isfinite(float(grad))
    h = 0.01
    fd = (float(period(30.0 + h)) - float(period(30.0 - h))) / (2 * h)
    assert float(grad) == pytest.approx(fd, rel=0.05)  # measured: -4.05 vs -3.96 (h = 0.01), -3.94 (h = 0.001)


@pytest.mark.slow
def test_batched_networks_on_the_classic_runtime_over_devices():
    """Batched cells on 2 devices compiled for XLA's classic CPU runtime: inputs are committed to
    their devices before the call (the runtime aborted the process when shard_map sliced a
    replicated input by partition id). In a subprocess, which an abort would end."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import numpy as np, jaxneuron as jn
        jn.use_cores(2)
        import jaxneuron.solvers.runtime as R
        R.MIN_NEURON_SECONDS["adaptive"] = 0.0
        C = jn.PRINZ2004_CELLS
        net = jn.Pyloric2004(lp=np.array([C["LP 1"], C["LP 2"], C["LP 3"], C["LP 4"]]))
        y0 = net.warm_start(20.0)  # a device array from a solve (4 members)
        a = jn.simulate(net, t_end=30.0, y0=y0, save=jn.SaveAt(states=None, spikes=True))
        R.MIN_NEURON_SECONDS["adaptive"] = 1e12
        b = jn.simulate(net, t_end=30.0, y0=y0, save=jn.SaveAt(states=None, spikes=True))
        assert np.all(np.asarray(a.status) == 0)
        assert np.allclose(np.asarray(a.y_final), np.asarray(b.y_final), rtol=0, atol=1e-9)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
