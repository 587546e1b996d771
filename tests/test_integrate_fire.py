"""Integrate-and-fire cells (LIF, AdEx, Izhikevich) with exact resets, against closed forms and
independent scipy event loops (tests/reference_if.py)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

import jaxneuron as jn
from reference_if import adex_spikes, izhikevich_spikes, lif_period


def _spikes(sol, i=None):
    st = np.asarray(sol.spike_times if i is None else sol.spike_times[i])
    return st[np.isfinite(st)]


# --- LIF: closed form -----------------------------------------------------------------------------

LIF_CASES = [(3.0, 2.0), (2.0, 0.0), (10.0, 5.0)]  # (I uA/cm^2, t_ref ms)


@pytest.mark.parametrize("solver", [jn.Kvaerno5(rtol=1e-8, atol=1e-8), jn.Tsit5(rtol=1e-8, atol=1e-8)], ids=["kvaerno5", "tsit5"])
def test_lif_first_spike_and_period_match_the_closed_form(solver):
    currents = np.array([c[0] for c in LIF_CASES])
    t_ref = np.array([c[1] for c in LIF_CASES])
    model = jn.LIF(t_ref=t_ref)
    sol = jn.simulate(model, t_end=200.0, stimulus=currents, save=jn.SaveAt(states=None, spikes=True, max_spikes=200),
                      solver=solver)  # fmt: skip
    for i, (I, tr) in enumerate(LIF_CASES):
        st = _spikes(sol, i)
        tau, V_inf = 10.0, -70.0 + I / 0.1
        first = tau * math.log((V_inf + 70.0) / (V_inf + 55.0))  # from V = E_L = V_reset
        period = lif_period(1.0, 0.1, -70.0, -55.0, -70.0, tr, I)
        assert len(st) == int(sol.n_spikes[i]) == 1 + int((200.0 - first) // period)
        assert st[0] == pytest.approx(first, rel=1e-6)
        np.testing.assert_allclose(np.diff(st), period, rtol=1e-6)


def test_lif_below_rheobase_is_silent_and_relaxes_to_v_inf():
    # rheobase g_L (V_th - E_L) = 1.5 uA/cm^2
    sol = jn.simulate(jn.LIF(), t_end=200.0, stimulus=np.array([1.49, 1.51]), save=jn.SaveAt(spikes=True, save_dt=1.0))
    first = 10.0 * math.log(15.1 / 0.1)  # just above rheobase: a long first interval
    period = lif_period(1.0, 0.1, -70.0, -55.0, -70.0, 2.0, 1.51)
    assert int(sol.n_spikes[0]) == 0 and int(sol.n_spikes[1]) == 1 + int((200.0 - first) // period)
    np.testing.assert_allclose(float(sol.V[0, -1]), -70.0 + 14.9 * (1 - math.exp(-20.0)), atol=1e-5)


def test_lif_refractory_period_holds_v_at_reset_and_the_trace_follows_the_closed_form():
    I, tr = 3.0, 2.0
    sol = jn.simulate(jn.LIF(t_ref=tr), t_end=40.0, stimulus=I, save=jn.SaveAt(save_dt=0.01, spikes=True),
                      solver=jn.Tsit5(rtol=1e-10, atol=1e-10))  # fmt: skip
    t, V = np.asarray(sol.t), np.asarray(sol.V)
    st = _spikes(sol)
    V_inf, tau = -70.0 + I / 0.1, 10.0
    # closed-form trace: rise from V_reset after each refractory period
    start = np.concatenate([[0.0], st + tr])
    last_start = start[np.searchsorted(start, t, side="right") - 1]
    exact = V_inf + (-70.0 - V_inf) * np.exp(-(t - last_start) / tau)
    held = np.zeros_like(t, bool)
    for s in st:
        held |= (t > s) & (t < s + tr)
    exact = np.where(held, -70.0, exact)
    assert held.sum() > 100 and np.all(V[held] == -70.0)  # exactly the reset value
    away = np.min(np.abs(t[:, None] - np.concatenate([st, st + tr])[None]), axis=1) > 1e-6
    np.testing.assert_allclose(V[away], exact[away], atol=1e-7)


def test_reset_lands_on_the_crossing_not_at_the_end_of_a_step():
    # a loose tolerance: steps are long, yet every spike sits on the crossing of the interpolant
    I = 3.0
    sol = jn.simulate(jn.LIF(), t_end=200.0, stimulus=I, save=jn.SaveAt(states=None, spikes=True, max_spikes=100),
                      solver=jn.Tsit5(rtol=1e-3, atol=1e-3))  # fmt: skip
    st = _spikes(sol)
    mean_step = 200.0 / int(sol.num_accepted)
    exact = 10.0 * math.log(2.0) + np.arange(len(st)) * lif_period(1.0, 0.1, -70.0, -55.0, -70.0, 2.0, I)
    assert mean_step > 0.3 and len(st) == len(exact) == 22
    # every interval is right to the tolerance's accuracy (1e-3 of 9 ms), far below a step's length
    assert abs(st[0] - exact[0]) < 0.01 * mean_step
    assert np.max(np.abs(np.diff(st) - np.diff(exact))) < 0.01 * mean_step


def test_lif_fixed_step_reset_converges_in_second_order():
    # exponential Euler is exact for the LIF between spikes; the chord's crossing costs O(h^2)
    I = 3.0
    period = lif_period(1.0, 0.1, -70.0, -55.0, -70.0, 2.0, I)
    errors = []
    for dt in (0.1, 0.05, 0.025):
        sol = jn.simulate(jn.LIF(), t_end=200.0, stimulus=I, save=jn.SaveAt(states=None, spikes=True, max_spikes=100),
                          solver=jn.ExpEuler(dt=dt))  # fmt: skip
        st = _spikes(sol)
        assert len(st) == 22
        errors.append(np.max(np.abs(np.diff(st) - period)))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.7) and np.all(orders < 2.5), (errors, orders)


def test_lif_fixed_step_refractory_period_ending_inside_a_step():
    # t_ref = 2.03 ms ends inside a 0.1 ms step: the step is split, the period stays second order
    I = 3.0
    period = lif_period(1.0, 0.1, -70.0, -55.0, -70.0, 2.03, I)
    sol = jn.simulate(jn.LIF(t_ref=2.03), t_end=100.0, stimulus=I, save=jn.SaveAt(states=None, spikes=True),
                      solver=jn.ExpEuler(dt=0.1))  # fmt: skip
    assert np.max(np.abs(np.diff(_spikes(sol)) - period)) < 2e-3


# --- AdEx -----------------------------------------------------------------------------------------


def _adex_fixed_point(m, I):
    """Rest of AdEx at current I (pA): the lower root of the steady-state I-V curve (numpy)."""
    g_L, a, E_L, V_T, D = 30.0, 4.0, -70.6, -50.4, 2.0
    f = lambda V: (g_L + a) * (V - E_L) - g_L * D * math.exp((V - V_T) / D) - I  # noqa: E731
    V = brentq(f, E_L - 100.0, V_T + D * math.log(1 + a / g_L))
    return np.array([V, a * (V - E_L)])


def test_adex_bifurcation_current_matches_the_jacobian_of_the_published_defaults():
    # independent: bisect on the current where the Jacobian's eigenvalues at rest cross zero
    m = jn.AdEx()
    C, g_L, a, tau_w, D, V_T = 281.0, 30.0, 4.0, 144.0, 2.0, -50.4

    def max_real(I):
        V, _ = _adex_fixed_point(m, I)
        e = math.exp((V - V_T) / D)
        J = np.array([[(-g_L + g_L * e) / C, -1.0 / C], [a / tau_w, -1.0 / tau_w]])
        return np.max(np.linalg.eigvals(J).real)

    # the published set is in the Hopf case, just below the saddle-node (627.31 pA) where rest vanishes
    I_num = brentq(max_real, 0.0, 627.25, xtol=1e-10)
    assert float(m.bifurcation_current()) == pytest.approx(I_num, rel=1e-9)
    assert float(m.bifurcation_current()) == pytest.approx(627.18, abs=0.01)  # the Hopf case


def test_adex_rest_loses_stability_at_the_bifurcation_current():
    m = jn.AdEx()
    I_b = float(m.bifurcation_current())
    currents = np.array([0.99 * I_b, 1.01 * I_b])
    y0 = _adex_fixed_point(m, currents[0]) + np.array([0.1, 0.0])  # nudged off rest at 0.99 I_b
    sol = jn.simulate(m, y0=y0, t_end=3000.0, stimulus=currents, save=jn.SaveAt(states=None, spikes=True, transient=1000.0))
    assert int(sol.n_spikes[0]) == 0 and int(sol.n_spikes[1]) >= 5


@pytest.mark.parametrize("solver, rtol", [(jn.Kvaerno5(rtol=1e-8, atol=1e-8), 1e-6), (jn.Tsit5(rtol=1e-8, atol=1e-8), 1e-6),
                                          (jn.ExpEuler(dt=0.01), 2e-3)],
                         ids=["kvaerno5", "tsit5", "expeuler"])  # fmt: skip
def test_adex_spike_counts_over_2_s_match_a_scipy_event_loop(solver, rtol):
    # the adaptive engine to 1e-6 of the spike times, exponential Euler (first order) to 2e-3
    currents = np.array([640.0, 700.0, 1000.0])
    sol = jn.simulate(jn.AdEx(), t_end=2000.0, stimulus=currents, save=jn.SaveAt(states=None, spikes=True, max_spikes=200),
                      solver=solver)  # fmt: skip
    for i, I in enumerate(currents):
        ref = adex_spikes(I, 2000.0)
        st = _spikes(sol, i)
        assert len(st) == len(ref) and len(ref) in (7, 17, 58)
        np.testing.assert_allclose(st, ref, rtol=rtol)


def test_adex_reset_adds_b_to_w():
    sol = jn.simulate(jn.AdEx(), t_end=30.0, stimulus=1000.0, save=jn.SaveAt(states="all", save_dt=0.001, spikes=True),
                      solver=jn.Tsit5(rtol=1e-9, atol=1e-9))  # fmt: skip
    t_spike = float(_spikes(sol)[0])
    ys, t = np.asarray(sol.ys), np.asarray(sol.t)
    before, after = np.searchsorted(t, t_spike) - 1, np.searchsorted(t, t_spike)
    assert ys[after, 1] - ys[before, 1] == pytest.approx(80.5, abs=0.05)
    assert ys[after, 0] == pytest.approx(-70.6, abs=0.05) and ys[before, 0] > -50.0


# --- Izhikevich -----------------------------------------------------------------------------------


def test_izhikevich_published_sets_fire_their_patterns_and_match_scipy():
    names = list(jn.IZHIKEVICH_PRESETS)
    pars = np.array([jn.IZHIKEVICH_PRESETS[n] for n in names])
    model = jn.Izhikevich(a=pars[:, 0], b=pars[:, 1], c=pars[:, 2], d=pars[:, 3])
    sol = jn.simulate(model, t_end=300.0, stimulus=jn.Step(10.0, 20.0, 1000.0),
                      save=jn.SaveAt(states=None, spikes=True, max_spikes=200))  # fmt: skip
    isis = {}
    for i, name in enumerate(names):
        ref = izhikevich_spikes(*jn.IZHIKEVICH_PRESETS[name], 10.0, 300.0, t_on=20.0)
        st = _spikes(sol, i)
        assert len(st) == len(ref), name
        np.testing.assert_allclose(st, ref, atol=5e-3)
        isis[name] = np.diff(st)
    rs, ib, ch, fs, lts = (isis[n] for n in names)
    assert rs.min() > 15 and rs[-1] > 2 * rs[0]  # regular spiking: single spikes, adapting
    assert np.all(ib[:2] < 5) and np.all(ib[2:] > 25) and np.ptp(ib[-4:]) < 0.1  # initial burst, then tonic
    long = ch > 20  # chattering: bursts of >= 3 spikes separated by long pauses, repeatedly
    assert long.sum() >= 4 and np.all(np.diff(np.flatnonzero(long)) >= 3) and np.all(ch[~long] < 6)
    assert fs[-1] < 8 and np.ptp(fs[-10:]) < 0.01 and fs.min() > 3  # fast spiking: ~136 Hz, tonic
    assert lts[0] < 5 and lts[-1] > 2 * lts[0] and 1000 / lts[-1] > 1000 / rs[-1]  # adapting, faster than RS


# --- batches, gradients, engines ------------------------------------------------------------------


def test_vmap_over_10000_members_equals_a_loop_resets_included():
    n = 10_000
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.0, 10.0, n), rng.uniform(0.0, 150.0, n)
    currents = rng.uniform(400.0, 1200.0, n)
    save = jn.SaveAt(states=None, spikes=True, max_spikes=64)
    batch = jn.simulate(jn.AdEx(a=a, b=b), t_end=200.0, stimulus=currents, save=save)
    assert np.all(np.asarray(batch.status) == 0) and int(np.sum(batch.n_spikes)) > 3 * n
    for i in range(0, n, 1000):
        one = jn.simulate(jn.AdEx(a=a[i], b=b[i]), t_end=200.0, stimulus=currents[i], save=save)
        assert int(one.n_spikes) == int(batch.n_spikes[i])
        np.testing.assert_allclose(_spikes(batch, i), _spikes(one), rtol=0, atol=1e-9)
        np.testing.assert_allclose(np.asarray(batch.y_final[i]), np.asarray(one.y_final), rtol=1e-9, atol=1e-9)


def test_forward_mode_spike_time_sensitivity_matches_the_closed_form():
    # the located crossing moves with the parameters: d t_k / d I through the work queue
    def spike_times(I):
        sol = jn.simulate(jn.LIF(), t_end=60.0, stimulus=I, save=jn.SaveAt(states=None, spikes=True, max_spikes=8),
                          solver=jn.Tsit5(rtol=1e-10, atol=1e-10))  # fmt: skip
        return sol.spike_times[:3]

    I = 3.0
    _, dt_dI = jax.jvp(spike_times, (I,), (1.0,))
    V_inf, tau = -70.0 + I / 0.1, 10.0
    d_first = tau / 0.1 * (1.0 / (V_inf + 70.0) - 1.0 / (V_inf + 55.0))  # d/dI of tau ln((V_inf+70)/(V_inf+55))
    np.testing.assert_allclose(np.asarray(dt_dI), d_first * np.array([1.0, 2.0, 3.0]), rtol=1e-6)


def test_reverse_mode_gradient_of_a_smooth_trace_function_through_fixed_step_resets():
    # mean V over a window holding several resets: continuous and piecewise smooth in I, the
    # located chord crossing carries the spike-time dependence into the gradient
    def mean_v(I):
        sol = jn.simulate(jn.AdEx(), t_end=300.0, stimulus=I, save=jn.SaveAt(save_dt=0.05), solver=jn.ExpEuler(dt=0.01))
        return jnp.mean(sol.V)

    I = 800.0
    grad = float(jax.grad(mean_v)(I))
    eps = 1e-3
    fd = (float(mean_v(I + eps)) - float(mean_v(I - eps))) / (2 * eps)
    assert np.isfinite(grad) and grad == pytest.approx(fd, rel=1e-4)


def test_diffrax_engine_refuses_event_models_with_a_clear_error():
    with pytest.raises(NotImplementedError, match="QueueEngine"):
        jn.simulate(jn.LIF(), t_end=10.0, engine=jn.DiffraxEngine())


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [(lambda: jn.LIF(V_th=-75.0), "V_reset must be below V_th"),
     (lambda: jn.LIF(C=0.0), "LIF.C must be finite and > 0"),
     (lambda: jn.LIF(g_L=-1.0), "LIF.g_L must be finite and > 0"),
     (lambda: jn.LIF(t_ref=-1.0), "LIF.t_ref must be finite and >= 0"),
     (lambda: jn.AdEx(tau_w=0.0), "AdEx.tau_w must be finite and > 0"),
     (lambda: jn.AdEx(V_r=-30.0), "V_r must be below V_peak"),
     (lambda: jn.Izhikevich(c=40.0), "c must be below v_peak"),
     (lambda: jn.Izhikevich.preset("XX"), r"unknown Izhikevich set 'XX'; valid sets: \['RS', 'IB', 'CH', 'FS', 'LTS'\]")],
    ids=["threshold-below-reset", "C", "tau", "t_ref", "tau_w", "adex-reset", "izh-reset", "preset"],
)  # fmt: skip
def test_bad_parameters_get_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
