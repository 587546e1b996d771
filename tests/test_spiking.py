"""simulate_spikes (the work-queue engine): spike times against tight scipy solves, results that do
not depend on slots or member order, per-member failure flags, stimulus jumps, the arrowhead
Jacobian, and activity_from_spikes against the trace analysis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import jaxneuron as jn
import diffrax

from jaxneuron._batching import flatten_members
from jaxneuron.solvers.steppers import arrowhead_jacobian, esdirk_step, esdirk_tables
from reference_models import hh_rhs, prinz_rhs, prinz_steady, solve_reference, upward_crossings

SETS = np.array([
    jn.PRINZ2003_SETS["fig2c_bursting"],
    np.array(jn.PRINZ2003_SETS["fig2c_bursting"]) * [0.8, 1.2, 0.9, 1.1, 0.7, 1.3, 1.0, 0.6],
    np.array(jn.PRINZ2003_SETS["fig2c_bursting"]) * [1.2, 0.8, 1.1, 0.9, 1.3, 0.7, 1.0, 1.4],
])  # fmt: skip
T_END = 1500.0


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
    sol = jn.simulate_spikes(model, y0=y0, t_end=T_END, solver=solver, slots=2)  # 3 members, 2 slots: a refill
    np.testing.assert_array_equal(np.asarray(sol.status), 0)
    for i, ref in enumerate(reference_spikes):
        got = np.asarray(sol.times[i])
        got = got[np.isfinite(got)]
        assert int(sol.n_spikes[i]) == ref.size > 5
        # the reference is linearly interpolated on a 5 us grid (error ~1e-4 ms on the upstroke)
        np.testing.assert_allclose(got, ref, atol=2e-3)


def test_slots_member_order_and_blocks_do_not_change_results(monkeypatch):
    g = np.array(jn.PRINZ2003_SETS["fig2c_bursting"]) * np.random.default_rng(1).uniform(0.6, 1.4, size=(8, 8))
    kw = dict(t_end=400.0, t_record=100.0, solver=jn.Tsit5())
    a = jn.simulate_spikes(jn.Prinz2003.from_conductances(g), slots=8, **kw)
    b = jn.simulate_spikes(jn.Prinz2003.from_conductances(g), slots=3, **kw)
    c = jn.simulate_spikes(jn.Prinz2003.from_conductances(g[::-1]), slots=2, **kw)
    one = jn.simulate_spikes(jn.Prinz2003.from_conductances(g[5]), **kw)
    from jaxneuron.solvers import queue

    monkeypatch.setattr(queue, "_QUEUE_BLOCK", 3)  # 8 members per device -> blocks of 3, 3, 2 (+1 padding)
    d = jn.simulate_spikes(jn.Prinz2003.from_conductances(g), slots=4, **kw)  # a new program: traced with the blocks
    assert int(np.sum(np.asarray(a.n_spikes))) > 10
    for other, order in ((b, slice(None)), (c, slice(None, None, -1)), (d, slice(None))):
        np.testing.assert_array_equal(np.asarray(other.n_spikes)[order], np.asarray(a.n_spikes))
        np.testing.assert_array_equal(np.asarray(other.num_steps)[order], np.asarray(a.num_steps))
        np.testing.assert_allclose(np.asarray(other.times)[order], np.asarray(a.times), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(other.y_final)[order], np.asarray(a.y_final), rtol=1e-10)
    assert one.times.shape == (jn.analysis.DEFAULT_MAX_SPIKES,)
    np.testing.assert_allclose(np.asarray(one.times), np.asarray(a.times[5]), rtol=1e-12)
    assert np.all(np.asarray(a.times)[np.isfinite(np.asarray(a.times))] >= 100.0)


def test_max_steps_flags_that_member_and_keeps_the_others():
    g = np.array([jn.PRINZ2003_SETS["fig2c_bursting"], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01]])
    model = jn.Prinz2003.from_conductances(g)
    free = jn.simulate_spikes(model, t_end=1000.0, solver=jn.Tsit5())
    cap = int(free.num_steps[1]) + 50  # the passive cell fits, the burster does not
    assert cap < int(free.num_steps[0])
    capped = jn.simulate_spikes(model, t_end=1000.0, solver=jn.Tsit5(max_steps=cap), slots=1)
    np.testing.assert_array_equal(np.asarray(capped.status), [1, 0])
    assert int(capped.num_steps[0]) == cap
    np.testing.assert_array_equal(np.asarray(capped.y_final[1]), np.asarray(free.y_final[1]))


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
    sol = jn.simulate_spikes(model, y0=jnp.asarray([-65.0, 0.0529, 0.5961, 0.3177]), t_end=60.0,
                             stimulus=jn.Step(amplitude=10.0, t_on=5.0, t_off=45.0), solver=solver)  # fmt: skip
    got = np.asarray(sol.times)[: int(sol.n_spikes)]
    assert int(sol.status) == 0 and ref.size >= 3
    np.testing.assert_allclose(got, ref, atol=1e-3)


@pytest.mark.parametrize("model,own_border", [(jn.Prinz2003(), False), (jn.Prinz2003(), True), (jn.HodgkinHuxley(), False)],
                         ids=["prinz", "prinz-border-rows", "hh"])  # fmt: skip
def test_arrowhead_jacobian_matches_jacfwd(model, own_border):
    rng = np.random.default_rng(0)
    y = np.asarray(model.default_y0())[:, None] * (1 + 0.1 * rng.standard_normal((model.n_states, 3)))
    y[0] = [-60.0, -30.0, 10.0]
    y = jnp.asarray(y)
    t = jnp.zeros(3)

    def lf(t, yT):
        return jax.vmap(lambda yy: model.linear_form(yy, 1.5), in_axes=1, out_axes=1)(yT)

    def border_one(yy):  # the border rows on their own, as the work queue passes them for STG models
        A, B = model._border_rows(yy, 1.5)
        return jnp.stack(A) - jnp.stack(B) * yy[:2]

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
    t_end, t_rec = 6000.0, 2000.0
    act = jn.activity_from_spikes(jn.simulate_spikes(model, t_end=t_end, t_record=t_rec, solver=solver))
    sol = jn.simulate(model, t_end=t_end, solver=solver, save=jn.SaveAt(t0=t_rec, dt=0.05))
    ref = jn.activity(sol.t, sol.V)
    np.testing.assert_array_equal(np.asarray(act.label), np.asarray(ref.label))
    np.testing.assert_array_equal(np.asarray(act.label), [jn.analysis.BURSTING, jn.analysis.TONIC, jn.analysis.SILENT])
    np.testing.assert_array_equal(np.asarray(act.n_spikes), np.asarray(ref.n_spikes))
    np.testing.assert_allclose(np.asarray(act.burst_period[0]), np.asarray(ref.burst_period[0]), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(act.isi_mean[1]), np.asarray(ref.isi_mean[1]), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(act.v_max), np.asarray(ref.v_max), atol=1.0)  # step points vs 0.05 ms samples
    assert np.isnan(np.asarray(act.slow_wave_amplitude)).all()


def test_bad_input_names_the_argument():
    model = jn.Prinz2003()
    with pytest.raises(ValueError, match="t_record"):
        jn.simulate_spikes(model, t_end=100.0, t_record=100.0)
    with pytest.raises(TypeError, match="Tsit5, Kvaerno5 or Kvaerno3"):
        jn.simulate_spikes(model, t_end=100.0, solver=jn.ExpEuler())
    with pytest.raises(ValueError, match="slots"):
        jn.simulate_spikes(model, t_end=100.0, slots=0)
    with pytest.raises(ValueError, match="unknown classification options"):
        jn.activity_from_spikes(jn.simulate_spikes(model, t_end=10.0), periodicity=0.1)
