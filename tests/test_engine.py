"""The work-queue engine (``simulate``'s default): spike times and saved traces against tight
scipy solves, exact events against closed forms, results that do not depend on slots, member
order, blocks or devices, one status code per failure, the arrowhead Jacobian, and the
fixed-step path against the Diffrax engine."""

import os
import subprocess
import sys
import textwrap

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import jaxneuron as jn
from jaxneuron._batching import flatten_members
from jaxneuron.solvers.queue import quintic_hermite
from jaxneuron.solvers.steppers import arrowhead_jacobian, esdirk_step, esdirk_tables
from reference_models import hh_rhs, hh_steady, prinz_rhs, prinz_steady, solve_reference, upward_crossings
from toy_models import Blowup, ToyLIF, TwoLeaky

SETS = np.array([
    jn.PRINZ2003_SETS["fig2c_bursting"],
    np.array(jn.PRINZ2003_SETS["fig2c_bursting"]) * [0.8, 1.2, 0.9, 1.1, 0.7, 1.3, 1.0, 0.6],
    np.array(jn.PRINZ2003_SETS["fig2c_bursting"]) * [1.2, 0.8, 1.1, 0.9, 1.3, 0.7, 1.0, 1.4],
])  # fmt: skip
T_END = 1500.0
SPIKES = jn.SaveAt(states=None, spikes=True)


@pytest.fixture(scope="module")
def reference_spikes():
    t_eval = np.arange(0.0, T_END, 0.005)
    out = []
    for g in SETS:
        t, Y = solve_reference(prinz_rhs, prinz_steady(g), T_END, t_eval, args=(g,), rtol=1e-10, atol=1e-10)
        out.append(upward_crossings(t, Y[0]))
    return out


@pytest.mark.parametrize("solver", [jn.Tsit5(rtol=1e-8, atol=1e-8), jn.Kvaerno5(rtol=1e-8, atol=1e-8)], ids=["tsit5", "kvaerno5"])
def test_spike_times_match_scipy(reference_spikes, solver):
    model = jn.Prinz2003.from_conductances(SETS)
    y0 = np.stack([prinz_steady(g) for g in SETS])
    sol = jn.simulate(model, y0=y0, t_end=T_END, solver=solver, save=SPIKES, engine=jn.QueueEngine(slots=1))  # refills
    np.testing.assert_array_equal(np.asarray(sol.status), 0)
    for i, ref in enumerate(reference_spikes):
        got = np.asarray(sol.spike_times[i])
        got = got[np.isfinite(got)]
        assert int(sol.n_spikes[i]) == ref.size > 5
        # the reference is linearly interpolated on a 5 us grid (error ~1e-4 ms on the upstroke)
        np.testing.assert_allclose(got, ref, atol=2e-3)


@pytest.fixture(scope="module")
def hh_reference():
    ts = np.arange(0.0, 50.0 + 1e-9, 0.1)
    t, Y = solve_reference(hh_rhs, hh_steady(-65.0), 50.0, ts, args=(lambda t: 10.0,), rtol=1e-12, atol=1e-12)
    return Y


def test_default_simulate_traces_match_a_tight_scipy_solve(hh_reference):
    """``simulate(model)`` with no options (Kvaerno5, rtol = atol = 1e-6, the work queue) saves V
    on its interpolant: HH firing at 10 uA/cm^2 for 50 ms (5 spikes) against LSODA at 1e-12. The
    trace error is the solver's own (spike timing, ~6e-6 ms on a 500 mV/ms upstroke): measured
    3.0e-3 mV, and it falls with the tolerance (1.2e-4 mV at 1e-8); the state at step points
    is within ~1.5e-5 mV. Tsit5's queue traces equal the Diffrax engine's (same steps, 6.6e-4 mV)."""
    y0 = jnp.asarray(hh_steady(-65.0))
    err = lambda sol: float(np.max(np.abs(np.asarray(sol.V) - hh_reference[0])))  # noqa: E731
    default = jn.simulate(jn.HodgkinHuxley(), y0=y0, t_end=50.0, stimulus=10.0)
    assert default.V.shape == (501,) and int(default.status) == 0
    tight = jn.simulate(jn.HodgkinHuxley(), y0=y0, t_end=50.0, stimulus=10.0, solver=jn.Kvaerno5(rtol=1e-8, atol=1e-8))
    assert err(default) < 1e-2 and err(tight) < 5e-4 and err(tight) < err(default) / 10
    tsit = jn.simulate(jn.HodgkinHuxley(), y0=y0, t_end=50.0, stimulus=10.0, solver=jn.Tsit5())
    ref = jn.simulate(jn.HodgkinHuxley(), y0=y0, t_end=50.0, stimulus=10.0, solver=jn.Tsit5(), engine=jn.DiffraxEngine())
    assert abs(int(tsit.num_steps) - int(ref.num_steps)) <= 2  # the same controller (Diffrax clips its last step)
    assert err(tsit) < 1.2 * err(ref) + 1e-5 and err(tsit) < 2e-3
    every = jn.simulate(jn.HodgkinHuxley(), y0=y0, t_end=50.0, stimulus=10.0, save=jn.SaveAt(states="all", save_dt=0.1))
    np.testing.assert_allclose(np.asarray(every.ys), hh_reference.T, atol=1e-2)
    np.testing.assert_array_equal(np.asarray(every.V), np.asarray(every.ys[:, 0]))


def test_quintic_hermite_is_exact_for_quintics():
    c = np.array([0.3, -1.2, 0.7, 2.0, -0.4, 1.1])  # p(s) = sum c_k s^k
    p = lambda s: sum(ck * s**k for k, ck in enumerate(c))  # noqa: E731
    dp = lambda s: sum(k * ck * s ** (k - 1) for k, ck in enumerate(c) if k)  # noqa: E731
    ddp = lambda s: sum(k * (k - 1) * ck * s ** (k - 2) for k, ck in enumerate(c) if k > 1)  # noqa: E731
    s = np.linspace(0.0, 1.0, 11)
    got = quintic_hermite(s, p(0.0), p(1.0), dp(0.0), dp(1.0), ddp(0.0), ddp(1.0))
    np.testing.assert_allclose(got, p(s), rtol=1e-13, atol=1e-13)


def test_slots_member_order_blocks_and_saves_do_not_change_results(monkeypatch):
    g = np.array(jn.PRINZ2003_SETS["fig2c_bursting"]) * np.random.default_rng(1).uniform(0.6, 1.4, size=(8, 8))
    save = jn.SaveAt(transient=100.0, save_dt=0.5, spikes=True)
    kw = dict(t_end=400.0, solver=jn.Tsit5(), save=save)
    a = jn.simulate(jn.Prinz2003.from_conductances(g), engine=jn.QueueEngine(slots=8), **kw)
    b = jn.simulate(jn.Prinz2003.from_conductances(g), engine=jn.QueueEngine(slots=3), **kw)
    c = jn.simulate(jn.Prinz2003.from_conductances(g[::-1]), engine=jn.QueueEngine(slots=2), **kw)
    one = jn.simulate(jn.Prinz2003.from_conductances(g[5]), **kw)
    bare = jn.simulate(jn.Prinz2003.from_conductances(g), t_end=400.0, solver=jn.Tsit5(), save=jn.SaveAt(states=None))
    from jaxneuron.solvers import queue

    monkeypatch.setattr(queue, "QUEUE_BLOCK", 3)  # 4 members per device -> blocks of 2, 2
    d = jn.simulate(jn.Prinz2003.from_conductances(g), engine=jn.QueueEngine(slots=4), **kw)  # a new program
    assert int(np.sum(np.asarray(a.n_spikes))) > 10
    for other, order in ((b, slice(None)), (c, slice(None, None, -1)), (d, slice(None)), (bare, slice(None))):
        np.testing.assert_array_equal(np.asarray(other.num_steps)[order], np.asarray(a.num_steps))
        np.testing.assert_allclose(np.asarray(other.y_final)[order], np.asarray(a.y_final), rtol=1e-10)
        if other is not bare:
            np.testing.assert_array_equal(np.asarray(other.n_spikes)[order], np.asarray(a.n_spikes))
            np.testing.assert_allclose(np.asarray(other.spike_times)[order], np.asarray(a.spike_times), rtol=1e-12)
            np.testing.assert_allclose(np.asarray(other.V)[order], np.asarray(a.V), rtol=1e-10, atol=1e-10)
    assert one.spike_times.shape == (jn.analysis.DEFAULT_MAX_SPIKES,) and one.V.shape == (601,)
    np.testing.assert_allclose(np.asarray(one.spike_times), np.asarray(a.spike_times[5]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(a.t), 100.0 + 0.5 * np.arange(601))
    assert np.all(np.asarray(a.spike_times)[np.isfinite(np.asarray(a.spike_times))] >= 100.0)


def test_max_steps_flags_that_member_and_keeps_the_others():
    g = np.array([jn.PRINZ2003_SETS["fig2c_bursting"], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01]])
    model = jn.Prinz2003.from_conductances(g)
    free = jn.simulate(model, t_end=1000.0, solver=jn.Tsit5(), save=SPIKES)
    cap = int(free.num_steps[1]) + 50  # the passive cell fits, the burster does not
    assert cap < int(free.num_steps[0])
    capped = jn.simulate(model, t_end=1000.0, solver=jn.Tsit5(max_steps=cap), save=SPIKES, engine=jn.QueueEngine(slots=1))
    np.testing.assert_array_equal(np.asarray(capped.status), [jn.Status.MAX_STEPS, jn.Status.OK])
    assert int(capped.num_steps[0]) == cap
    np.testing.assert_array_equal(np.asarray(capped.y_final[1]), np.asarray(free.y_final[1]))


def test_each_failure_has_its_own_status_and_spares_the_others():
    """y' = a y^2 from y = 1 blows up at t = 1/a: with a = 1/ms the adaptive step collapses before
    t_end = 2 ms while y is still finite (STEP_COLLAPSED); a NaN initial state is NON_FINITE;
    a = 1e-3/ms finishes with the closed form 1/(1 - a t)."""
    model = Blowup(a=jnp.array([1e-3, 1.0, 1e-3]))
    y0 = jnp.array([[1.0], [1.0], [jnp.nan]])
    sol = jn.simulate(model, y0=y0, t_end=2.0, solver=jn.Tsit5(), save=jn.SaveAt(states=None))
    np.testing.assert_array_equal(np.asarray(sol.status), [jn.Status.OK, jn.Status.STEP_COLLAPSED, jn.Status.NON_FINITE])
    assert np.isfinite(float(sol.y_final[1, 0])) and float(sol.y_final[1, 0]) > 1e6
    np.testing.assert_allclose(float(sol.y_final[0, 0]), 1.0 / (1.0 - 2e-3), rtol=1e-9)
    assert jn.STATUS == {0: "ok", 1: "max_steps", 2: "non_finite", 3: "step_collapsed", 4: "solver_failure"}


@pytest.mark.parametrize("solver", [jn.Tsit5(rtol=1e-9, atol=1e-9), jn.Kvaerno5(rtol=1e-9, atol=1e-9)], ids=["tsit5", "kvaerno5"])
def test_step_current_is_resolved_at_its_edges(solver):
    """HH under a 10 uA/cm^2 step from 5 to 45 ms: spikes as scipy Radau solved piecewise."""
    y = np.array([-65.0, 0.0529, 0.5961, 0.3177])
    ts, vs = [], []
    for (a, b), amp in (((0.0, 5.0), 0.0), ((5.0, 45.0), 10.0), ((45.0, 60.0), 0.0)):
        s = solve_ivp(hh_rhs, (a, b), y, method="Radau", args=(lambda t, amp=amp: amp,), rtol=1e-10, atol=1e-10,
                      dense_output=True)  # fmt: skip
        tt = np.arange(a, b, 0.001)
        ts.append(tt)
        vs.append(s.sol(tt)[0])
        y = s.y[:, -1]
    ref = upward_crossings(np.concatenate(ts), np.concatenate(vs))
    model = jn.HodgkinHuxley()
    sol = jn.simulate(model, y0=jnp.asarray([-65.0, 0.0529, 0.5961, 0.3177]), t_end=60.0, save=SPIKES,
                      stimulus=jn.Step(amplitude=10.0, t_on=5.0, t_off=45.0), solver=solver)  # fmt: skip
    got = np.asarray(sol.spike_times)[: int(sol.n_spikes)]
    assert int(sol.status) == 0 and ref.size >= 3
    np.testing.assert_allclose(got, ref, atol=1e-3)


@pytest.mark.parametrize("solver", [jn.Tsit5(rtol=1e-8, atol=1e-8), jn.Kvaerno5(rtol=1e-8, atol=1e-8)], ids=["tsit5", "kvaerno5"])
def test_events_reset_exactly_at_the_located_crossing(solver):
    """The model's event hook (a leaky integrate-and-fire toy written against the interface):
    spike times equal the closed form to 1e-6 relative, the saved trace between resets equals
    the closed-form relaxation, V never exceeds the threshold, 10 members equal a loop."""
    I = jnp.linspace(16.0, 40.0, 10)  # R I (mV): V_inf = -65 + I above threshold
    model = ToyLIF()
    save = jn.SaveAt(save_dt=0.05, spikes=True, threshold=-50.0)
    sol = jn.simulate(model, t_end=300.0, stimulus=I, solver=solver, save=save)
    V_inf = -65.0 + np.asarray(I)
    first = 10.0 * np.log((V_inf + 65.0) / (V_inf + 50.0))
    period = 10.0 * np.log((V_inf + 70.0) / (V_inf + 50.0))
    np.testing.assert_array_equal(np.asarray(sol.status), 0)
    n = np.asarray(sol.n_spikes)
    np.testing.assert_array_equal(n, np.floor((300.0 - first) / period).astype(int) + 1)
    for i in range(10):
        st = np.asarray(sol.spike_times[i, : n[i]])
        np.testing.assert_allclose(st, first[i] + period[i] * np.arange(n[i]), rtol=1e-6)
        t = np.asarray(sol.t)
        last = np.concatenate([[-np.inf], st])[np.searchsorted(st, t, side="right")]  # the latest reset before t
        exact = np.where(np.isinf(last), V_inf[i] - (V_inf[i] + 65.0) * np.exp(-t / 10.0),
                         V_inf[i] - (V_inf[i] + 70.0) * np.exp(-(t - last) / 10.0))  # fmt: skip
        near = np.min(np.abs(t[:, None] - st[None]), axis=1) < 1e-6  # a save time on a reset is ambiguous
        np.testing.assert_allclose(np.asarray(sol.V[i])[~near], exact[~near], atol=1e-5)
    assert float(jnp.max(sol.V)) <= -50.0 + 1e-6
    for i in (0, 7):
        one = jn.simulate(ToyLIF(), t_end=300.0, stimulus=float(I[i]), solver=solver, save=save)
        np.testing.assert_allclose(np.asarray(one.spike_times), np.asarray(sol.spike_times[i]), rtol=1e-12)


@pytest.mark.parametrize("model,own_border", [(jn.Prinz2003(), False), (jn.Prinz2003(), True), (jn.HodgkinHuxley(), True)],
                         ids=["prinz", "prinz-border-rows", "hh-border-rows"])  # fmt: skip
def test_arrowhead_jacobian_matches_jacfwd(model, own_border):
    rng = np.random.default_rng(0)
    y = np.asarray(model.default_y0())[:, None] * (1 + 0.1 * rng.standard_normal((model.n_states, 3)))
    y[0] = [-60.0, -30.0, 10.0]
    y = jnp.asarray(y)
    t = jnp.zeros(3)

    def lf(t, yT):
        return jax.vmap(lambda yy: model.linear_form(yy, 1.5), in_axes=1, out_axes=1)(yT)

    def border_one(yy):  # the border rows on their own (the model's border_rows), as the work queue passes them
        A, B = model.border_rows(yy, 1.5)
        return A - B * yy[: model.n_border]

    def border(yT):
        return jax.vmap(border_one, in_axes=1, out_axes=1)(yT)

    cols, rows, diag = arrowhead_jacobian(lf, t, y, model.n_border, border if own_border else None)
    nb = model.n_border
    for k in range(3):
        J = np.asarray(jax.jacfwd(lambda yy: model.vector_field(0.0, yy, 1.5))(y[:, k]))
        np.testing.assert_allclose(np.asarray(cols[:, :, k]).T, J[:, :nb], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(rows[:, :, k]), J[:nb, :], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(diag[nb:, k]), np.diag(J)[nb:], rtol=1e-12, atol=1e-12)
        off = J[nb:, nb:] - np.diag(np.diag(J)[nb:])
        assert np.all(off == 0.0)  # the arrowhead structure the solve relies on


def test_newton_iterations_are_counted_per_slot():
    """The queue shortens the next step of a slot whose stage solves were slow, so ``esdirk_step``
    must report each slot's own Newton iterations, not the batch's lock-step count: a slot's
    count and result are the same in a batch as alone."""
    g = np.array(jn.PRINZ2003_SETS["fig2c_bursting"]) * np.ones((4, 1))
    model, axes = flatten_members(jn.Prinz2003.from_conductances(g), (4,))
    y = np.tile(np.asarray(model.default_y0()), (4, 1))
    y[:, 0] = [-60.0, -45.0, -20.0, 10.0]  # from rest to the spike upstroke
    yT, h = jnp.asarray(y.T), jnp.asarray([0.01, 0.3, 0.05, 0.02])
    tables = esdirk_tables(diffrax.Kvaerno5.tableau)

    @jax.jit
    def step(idx):  # one compile per batch size (4, then 1)
        m = jax.tree_util.tree_map(lambda a, x: x[idx] if a == 0 else x, axes, model, is_leaf=lambda v: v is None)

        def lf(t, yy):
            return jax.vmap(lambda mm, col: mm.linear_form(col, 0.0), in_axes=(axes, 1), out_axes=1)(m, yy)

        def rhs(t, yy):
            A, B = lf(t, yy)
            return A - B * yy

        t = jnp.zeros(idx.shape)
        return esdirk_step(rhs, lf, tables, t, yT[:, idx], rhs(t, yT[:, idx]), h[idx], n_border=2, rtol=1e-6,
                           atol=1e-6, newton_tol=1e-2, max_newton=8)  # fmt: skip

    y1, _, _, ok, iters = step(jnp.arange(4))
    assert bool(jnp.all(ok)) and int(iters.min()) >= 1 and int(iters.max()) > int(iters.min())
    for k in range(4):
        y1_k, _, _, _, iters_k = step(jnp.array([k]))
        assert int(iters_k[0]) == int(iters[k])
        np.testing.assert_allclose(np.asarray(y1_k[:, 0]), np.asarray(y1[:, k]), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", ["Kvaerno5", "Kvaerno3"])
def test_esdirk_predictor_integrates_polynomials_exactly(name):
    """For y' = p(t) the stage derivatives are p(t + c_j h), so the extrapolating predictor of
    stage i must equal the exact y(t + c_i h) whenever p has degree below the number of distinct
    nodes it uses; the "trivial" table is A + gamma on the previous stage (an explicit guess)."""
    tab = esdirk_tables(getattr(diffrax, name).tableau)
    triv = esdirk_tables(getattr(diffrax, name).tableau, predictor="trivial")
    c, P, h = tab["c"], tab["P"], 0.7
    for i in range(1, tab["s"]):
        np.testing.assert_allclose(triv["P"][i, :i].sum(), c[i], rtol=1e-12)  # consistent: exact for p = const
        if c[i] == c[i - 1]:
            np.testing.assert_array_equal(P[i], triv["P"][i])
            continue
        n_nodes = len({round(x, 14) for x in c[:i]})
        for deg in range(n_nodes):
            k = (c[:i] * h) ** deg  # p(t) = t^deg at t = c_j h
            exact = (c[i] * h) ** (deg + 1) / (deg + 1)
            np.testing.assert_allclose(h * P[i, :i] @ k, exact, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="predictor"):
        esdirk_tables(diffrax.Kvaerno5.tableau, predictor="bogus")


def test_activity_from_spikes_agrees_with_the_trace_analysis():
    g = np.array([jn.PRINZ2003_SETS["fig2c_bursting"], jn.PRINZ2003_SETS["ptm2003_tonic"], [0.0] * 7 + [0.01]])
    model = jn.Prinz2003.from_conductances(g)
    solver = jn.Tsit5(rtol=1e-8, atol=1e-8)
    t_end, transient = 6000.0, 2000.0
    act = jn.activity_from_spikes(jn.simulate(model, t_end=t_end, solver=solver,
                                              save=jn.SaveAt(transient=transient, states=None, spikes=True)))  # fmt: skip
    sol = jn.simulate(model, t_end=t_end, solver=solver, save=jn.SaveAt(transient=transient, save_dt=0.05),
                      engine=jn.DiffraxEngine())  # fmt: skip
    ref = jn.activity(sol.t, sol.V)
    np.testing.assert_array_equal(np.asarray(act.label), np.asarray(ref.label))
    np.testing.assert_array_equal(np.asarray(act.label), [jn.analysis.BURSTING, jn.analysis.TONIC, jn.analysis.SILENT])
    np.testing.assert_array_equal(np.asarray(act.n_spikes), np.asarray(ref.n_spikes))
    np.testing.assert_allclose(np.asarray(act.burst_period[0]), np.asarray(ref.burst_period[0]), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(act.isi_mean[1]), np.asarray(ref.isi_mean[1]), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(act.v_max), np.asarray(ref.v_max), atol=1.0)  # step points vs 0.05 ms samples
    assert np.isnan(np.asarray(act.slow_wave_amplitude)).all()


CELLS = np.array([jn.PRINZ2004_CELLS[k] for k in ("AB/PD 2", "LP 1", "PY 3")])


@pytest.mark.parametrize(
    "kw",
    [
        dict(t_end=40.0, save=jn.SaveAt(save_dt=0.1)),
        dict(t_end=40.31, save=jn.SaveAt(save_dt=0.07, states="all")),
        dict(t_end=40.0, save=jn.SaveAt(states=None), stimulus=jn.Step(amplitude=jnp.array([0.0, 1.0, 2.0]), t_on=10.0, t_off=30.0)),
        dict(t_end=30.0, save=jn.SaveAt(save_dt=0.5, transient=5.0),
             stimulus=jn.Sampled(t=jnp.array([0.0, 10.0, 30.0]), values=jnp.arange(9.0).reshape(3, 3))),
    ],
)  # fmt: skip
def test_expeuler_on_the_queue_equals_diffrax_exp_euler(kw):
    """The queue engine's fixed-step scan computes Diffrax's exponential Euler (ExpEulerSolver
    with ConstantStepSize) on the same equal steps, with the same linear interpolation."""
    model = jn.Prinz2003.from_conductances(CELLS)
    fast = jn.simulate(model, solver=jn.ExpEuler(), **kw)
    slow = jn.simulate(model, solver=jn.ExpEuler(), engine=jn.DiffraxEngine(), **kw)
    assert (fast.V is None) == (slow.V is None) and (fast.ys is None) == (slow.ys is None)
    np.testing.assert_allclose(fast.t, slow.t)
    np.testing.assert_array_equal(fast.num_steps, slow.num_steps)
    np.testing.assert_array_equal(fast.status, slow.status)
    tol = 1e-8
    if fast.V is not None:
        np.testing.assert_allclose(fast.V, slow.V, atol=tol * 100, rtol=0)
    np.testing.assert_allclose(fast.y_final, slow.y_final, atol=tol, rtol=tol)
    if fast.ys is not None:
        np.testing.assert_allclose(fast.ys, slow.ys, atol=tol * 100, rtol=0)


def test_expeuler_spikes_are_the_crossings_of_its_steps():
    """Fixed-step spikes are the crossings of the linear interpolant between steps: the same as
    jaxneuron.spike_times on the trace saved at every step; float32 and non-finite members too."""
    model = jn.Prinz2003.from_conductances(CELLS)
    save = jn.SaveAt(transient=100.0, save_dt=0.025, spikes=True)
    sol = jn.simulate(model, t_end=600.0, solver=jn.ExpEuler(dt=0.025), save=save)
    ref = jn.spike_times(sol.t, sol.V)
    assert int(np.sum(np.asarray(sol.n_spikes))) > 20
    np.testing.assert_array_equal(np.asarray(sol.n_spikes), np.asarray(ref.count))
    np.testing.assert_allclose(np.asarray(sol.spike_times), np.asarray(ref.times), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(sol.v_max), np.asarray(sol.V).max(-1), rtol=1e-12)
    y0 = jnp.tile(model.default_y0(), (3, 1)).at[1, 0].set(jnp.nan)
    bad = jn.simulate(model, y0=y0, t_end=5.0, solver=jn.ExpEuler(dtype="float32"))
    np.testing.assert_array_equal(bad.status, [jn.Status.OK, jn.Status.NON_FINITE, jn.Status.OK])
    assert bad.V.dtype == jnp.float32


_CORES = textwrap.dedent(
    """
    import warnings, numpy as np, jax, jaxneuron as jn
    from jaxneuron._devices import available_cores
    print("DEVICES", len(jax.devices()), available_cores())
    g = np.array([jn.PRINZ2004_CELLS[k] for k in ("AB/PD 2", "LP 1", "PY 3", "PY 1", "LP 2")])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sol = jn.simulate(jn.Prinz2003.from_conductances(g), t_end=100.0, solver=jn.Tsit5(), save=jn.SaveAt(save_dt=1.0, spikes=True))
    print("WARNED", sum("1 CPU device" in str(x.message) for x in w))
    np.save({out!r}, np.asarray(sol.V))
    """
)


def _run_cores(tmp_path, name, env):
    out = str(tmp_path / f"{name}.npy")
    proc = subprocess.run([sys.executable, "-c", _CORES.format(out=out)], capture_output=True, text=True, timeout=300,
                          env={**{k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")},
                               "JAX_PLATFORMS": "cpu", **env})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    devices, cores = (int(x) for x in proc.stdout.split("DEVICES")[1].split()[:2])
    warned = int(proc.stdout.split("WARNED")[1].split()[0])
    return devices, cores, warned, np.load(out)


def test_every_core_without_flags_and_a_warning_on_one(tmp_path):
    """A fresh ``import jaxneuron`` gives JAX one CPU device per available core; a process held to
    one device (JAX_NUM_CPU_DEVICES=1) on a multi-core machine is warned once; the members' results
    do not depend on how many devices ran them."""
    devices, cores, warned, V_all = _run_cores(tmp_path, "all", {})
    assert devices == cores and warned == 0
    devices1, _, warned1, V_one = _run_cores(tmp_path, "one", {"JAX_NUM_CPU_DEVICES": "1"})
    assert devices1 == 1 and warned1 == (1 if cores > 1 else 0)
    np.testing.assert_allclose(V_all, V_one, rtol=1e-10, atol=1e-10)


def _count_compiles(fn):
    events = []

    def listener(event, duration, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        fn()
    finally:
        from jax._src import monitoring

        monitoring._unregister_event_duration_listener_by_callback(listener)
    return len(events)


@pytest.mark.parametrize("solver", [jn.ExpEuler(), jn.Tsit5(), jn.Kvaerno5()], ids=["ExpEuler", "Tsit5", "Kvaerno5"])
def test_simulate_compiles_once_per_shape(solver):
    kw = dict(t_end=5.0, save=jn.SaveAt(save_dt=0.5), solver=solver)
    jax.block_until_ready(jn.simulate(jn.Prinz2003.from_conductances(CELLS), **kw))
    other = CELLS * np.array([1.1, 0.9, 1.0, 1.2, 1.0, 0.8, 1.0, 1.0])
    n = _count_compiles(lambda: jax.block_until_ready(jn.simulate(jn.Prinz2003.from_conductances(other), **kw)))
    assert n == 0, f"{n} compilations for new parameter values of the same shape"


def test_bad_input_names_the_argument():
    model = jn.Prinz2003()
    with pytest.raises(ValueError, match="SaveAt.transient must be shorter"):
        jn.simulate(model, t_end=100.0, save=jn.SaveAt(transient=100.0))
    with pytest.raises(ValueError, match="SaveAt.save_dt"):
        jn.SaveAt(save_dt=0.0)
    with pytest.raises(ValueError, match="SaveAt.states"):
        jn.SaveAt(states="V_only")
    with pytest.raises(ValueError, match="QueueEngine.slots"):
        jn.QueueEngine(slots=0)
    with pytest.raises(TypeError, match="engine must be"):
        jn.simulate(model, t_end=10.0, engine="queue")
    with pytest.raises(ValueError, match="DiffraxEngine records no spikes"):
        jn.simulate(model, t_end=10.0, save=SPIKES, engine=jn.DiffraxEngine())
    with pytest.raises(ValueError, match="needs spike times"):
        jn.activity_from_spikes(jn.simulate(model, t_end=10.0))
    with pytest.raises(ValueError, match="unknown classification options"):
        jn.activity_from_spikes(jn.simulate(model, t_end=10.0, save=SPIKES), periodicity=0.1)
    with pytest.raises(ValueError, match="tabulated needs V-only gate kinetics"):
        jn.simulate(jn.HodgkinHuxley(), t_end=10.0, solver=jn.ExpEuler(tabulated=True))


@pytest.mark.parametrize("solver", [jn.Tsit5(rtol=1e-9, atol=1e-9), jn.Kvaerno5(rtol=1e-9, atol=1e-9)], ids=["tsit5", "kvaerno5"])
def test_a_model_with_several_voltages_saves_each(solver):
    """Several membrane potentials (as a network has): V is saved per voltage, (..., n_voltages,
    n_times), and equals the closed-form relaxation of each; spikes are counted per voltage."""
    tau = jnp.array([5.0, 20.0])
    save = jn.SaveAt(save_dt=0.5, spikes=True, threshold=-20.0)
    sol = jn.simulate(TwoLeaky(tau=tau), t_end=40.0, stimulus=30.0, solver=solver, save=save)
    t = np.asarray(sol.t)
    assert sol.V.shape == (2, 2, 81) and sol.n_spikes.shape == (2, 2) and sol.spike_times.shape[:2] == (2, 2)
    for i in range(2):
        exact = [-35.0 - 30.0 * np.exp(-t / float(tau[i])), -10.0 - 30.0 * np.exp(-t / 4.0)]
        np.testing.assert_allclose(np.asarray(sol.V[i]), np.array(exact), atol=1e-6)
        # V1 tends to -35 mV (no crossing of -20 mV); V2 crosses it once, at 4 ln 3 ms
        np.testing.assert_array_equal(np.asarray(sol.n_spikes[i]), [0, 1])
        np.testing.assert_allclose(float(sol.spike_times[i, 1, 0]), 4.0 * np.log(3.0), rtol=1e-7)
