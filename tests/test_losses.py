"""Fitting losses: the feature surrogates against the exact features of jaxneuron.activity on
simulated cells, and the gradient of every loss against central finite differences."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuron as jn
from jaxneuron.fit import loss_and_gradient
from jaxneuron.fit.losses import FEATURES, smooth_features

PRINZ = jn.PRINZ2003_SETS


@pytest.fixture(scope="module")
def prinz_cells():
    """Every published Prinz 2003 set, 2 s transient + 4 s window (ExpEuler 0.025 ms)."""
    g = np.stack([np.asarray(v) for v in PRINZ.values()])
    sol = jn.simulate(jn.Prinz2003.from_conductances(g), t_end=6000.0, save=jn.SaveAt(transient=2000.0, save_dt=0.1),
                      solver=jn.ExpEuler(dt=0.025))  # fmt: skip
    return sol


def test_surrogates_match_the_exact_features_at_their_claimed_accuracy(prinz_cells):
    sol = prinz_cells
    act = jn.activity(sol.t, sol.V)
    labels = list(act.label_name)
    assert labels.count("bursting") >= 2 and labels.count("tonic") >= 1  # the check below covers both kinds
    for i, name in enumerate(PRINZ):
        f = {k: float(v) for k, v in smooth_features(sol.t, sol.V[i]).items()}
        n = int(act.n_spikes[i])
        if labels[i] == "bursting":
            # same crossings, same segmentation: equal to rounding
            assert f["burst_period"] == pytest.approx(float(act.burst_period[i]), rel=1e-12), name
            assert f["duty_cycle"] == pytest.approx(float(act.duty_cycle[i]), rel=1e-12), name
            assert abs(f["spikes_per_burst"] - float(act.spikes_per_burst[i])) < 1e-3, name  # soft count of full spikes
            assert abs(f["spike_rate"] / float(act.spike_rate[i]) - 1) <= float(act.spikes_per_burst[i]) / n, name
        elif labels[i] == "tonic":
            assert abs(f["spike_rate"] / float(act.spike_rate[i]) - 1) <= 1.0 / (n - 1), name


def test_tonic_rate_surrogate_on_hodgkin_huxley():
    sol = jn.simulate(jn.HodgkinHuxley(), t_end=300.0, stimulus=jnp.array([7.0, 10.0, 20.0]),
                      save=jn.SaveAt(transient=50.0, save_dt=0.05), solver=jn.ExpEuler(dt=0.01))  # fmt: skip
    act = jn.activity(sol.t, sol.V)
    for i in range(3):
        assert act.label_name[i] == "tonic"
        n = int(act.n_spikes[i])
        rate = float(smooth_features(sol.t, sol.V[i])["spike_rate"])
        assert abs(rate / float(act.spike_rate[i]) - 1) <= 1.0 / (n - 1)


def test_soft_spike_count_is_fractional_for_a_marginal_spike():
    # a synthetic trace: three bursts of 3 spikes (peaks +20 mV) whose last spike peaks exactly at
    # the threshold: s(V_peak) - s(V_trough) = 0.5 - sigmoid(-25) for that one
    t = np.arange(0.0, 4000.0, 0.1)
    v = np.full_like(t, -60.0)
    for start in (500.0, 1500.0, 2500.0, 3500.0):
        for j, peak in enumerate((20.0, 20.0, -10.0)):
            c = start + 20.0 * j
            v = np.maximum(v, -60.0 + (peak + 60.0) * np.exp(-(((t - c) / 1.0) ** 2)))
    f = smooth_features(t, v)
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected = 2 * (sig(15.0) - sig(-25.0)) + (0.5 - sig(-25.0))
    assert float(f["spikes_per_burst"]) == pytest.approx(expected, rel=1e-6)
    assert float(f["burst_period"]) > 999.0  # 2 crossings per burst, starts 1000 ms apart (interpolated)


def _fd_check(model, loss, values, h_rel, rtol, atol, modes=("forward", "reverse"), **protocol):
    """Gradient by fit's paths vs central differences; all evaluations in one batch."""
    names = list(values)
    P = len(names)
    x0 = np.array([values[n] for n in names], float)
    pts = [x0]
    for p in range(P):
        for s in (+1, -1):
            x = x0.copy()
            x[p] += s * h_rel * abs(x0[p])
            pts.append(x)
    pts = np.array(pts)
    batch = {n: pts[:, i] for i, n in enumerate(names)}
    for mode in modes:
        L, G = loss_and_gradient(model, loss, batch, gradient=mode, **protocol)
        assert np.all(np.isfinite(L))
        for p, n in enumerate(names):
            fd = (L[1 + 2 * p] - L[2 + 2 * p]) / (2 * h_rel * abs(x0[p]))
            assert G[n][0] == pytest.approx(fd, rel=rtol, abs=atol), (mode, n, G[n][0], fd)


def test_trace_loss_gradient_matches_central_differences():
    hh = jn.HodgkinHuxley()
    protocol = dict(t_end=25.0, stimulus=10.0, save=jn.SaveAt(save_dt=0.25), solver=jn.ExpEuler(dt=0.01))
    target = jn.simulate(hh, **protocol)
    loss = jn.losses.trace(target.t, target.V, window=(5.0, 25.0))
    _fd_check(hh, loss, {"g_Na": 110.0, "g_K": 40.0, "g_L": 0.35}, 1e-5, 1e-5, 1e-9, **protocol)


def test_user_loss_gradient_matches_central_differences():
    hh = jn.HodgkinHuxley()
    protocol = dict(t_end=25.0, stimulus=10.0, save=jn.SaveAt(save_dt=0.25), solver=jn.ExpEuler(dt=0.01))

    def loss(sol):  # anything of one member's solution: the final n gate and the mean voltage
        return sol.y_final[3] ** 2 + 1e-3 * jnp.mean(sol.V) ** 2

    _fd_check(hh, loss, {"g_Na": 110.0, "g_K": 40.0}, 1e-5, 1e-5, 1e-10, **protocol)


def _feature_fd_check(feature, modes):
    # the Fig 2C burster (period ~0.85 s): 3 s after a 1 s transient hold >= 2 complete bursts
    model = jn.Prinz2003.from_conductances(PRINZ["fig2c_bursting"])
    protocol = dict(t_end=4000.0, save=jn.SaveAt(transient=1000.0, save_dt=0.1), solver=jn.ExpEuler(dt=0.025))
    target = {"burst_period": 700.0, "duty_cycle": 0.2, "spikes_per_burst": 8.0, "spike_rate": 8.0}[feature]
    loss = jn.losses.features({feature: target})
    # soft counts of full spikes move by ~1e-7: absolute tolerance on the loss gradient
    _fd_check(model, loss, {"g_CaS": 4.0, "g_KCa": 15.0, "g_Kd": 50.0}, 1e-6, 2e-3, 1e-8, modes=modes, **protocol)


@pytest.mark.parametrize("feature", FEATURES)
def test_feature_loss_gradients_match_central_differences(feature):
    # forward mode, fit's default; reverse mode through 4 s x 7 members keeps ~3 GB of residuals
    # and is checked on the trace and user losses above, and in the slow test below
    _feature_fd_check(feature, ("forward",))


@pytest.mark.slow
@pytest.mark.parametrize("feature", ["burst_period", "duty_cycle"])
def test_feature_loss_reverse_mode_gradients_match_central_differences(feature):
    _feature_fd_check(feature, ("reverse",))


def test_feature_loss_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown feature"):
        jn.losses.features({"burst_periode": 1.0})
    with pytest.raises(ValueError, match="non-zero"):
        jn.losses.features({"duty_cycle": 0.0})
    with pytest.raises(ValueError, match="weights"):
        jn.losses.features({"duty_cycle": 0.3}, weights={"burst_period": 1.0})
    with pytest.raises(ValueError, match="window"):
        jn.losses.trace(np.arange(10.0), np.zeros(10), window=(20.0, 30.0))
    with pytest.raises(ValueError, match="n_times"):
        jn.losses.trace(np.arange(10.0), np.zeros(9))


# --- the pyloric rhythm loss ----------------------------------------------------------------------

from jaxneuron.fit.losses import rhythm, smooth_rhythm  # noqa: E402
from reference_rhythm import rhythm as reference_rhythm  # noqa: E402

# a synthetic triphasic circuit: bursts of Gaussian spikes (period 1000 ms, 5 cycles)
PERIOD = 1000.0
BURSTS = {0: (0.0, 5, 30.0), 1: (350.0, 4, 40.0), 2: (620.0, 6, 35.0)}  # cell: (start, spikes, ISI)


def _circuit(a, t):
    """Voltages (3, n) whose every spike time scales with ``a``: period a * 1000 ms."""
    V = []
    for c in range(3):
        start, n, isi = BURSTS[c]
        centres = jnp.array([100.0 + k * PERIOD + start + j * isi for k in range(5) for j in range(n)])
        V.append(-60.0 + 70.0 * jnp.sum(jnp.exp(-(((t[:, None] - a * centres[None]) / (a * 3.0)) ** 2)), axis=1))
    return jnp.stack(V)


def _crossings(t, v, thr=-10.0):
    """Upward threshold crossings, linearly interpolated (numpy, for the reference)."""
    i = np.nonzero((v[:-1] < thr) & (v[1:] >= thr))[0]
    return t[i] + (thr - v[i]) / (v[i + 1] - v[i]) * (t[i + 1] - t[i])


def test_smooth_rhythm_equals_the_numpy_reference_and_scales_with_time():
    import jax

    t = jnp.arange(0.0, 5600.0, 0.1)
    V = _circuit(1.0, t)
    f = smooth_rhythm(t, V)
    ref = reference_rhythm([_crossings(np.asarray(t), np.asarray(v)) for v in V], 0.0, float(t[-1]))
    for k in ("cycle_period", "start_phases", "duty_cycles", "phase_gaps", "triphasic", "pyloric_like"):
        np.testing.assert_allclose(np.asarray(f[k]), ref[k], rtol=1e-12, err_msg=k)
    assert abs(float(f["cycle_period"]) - PERIOD) < 1e-3
    # stretching time by a: the period moves as a * 1000 ms, the phases and duty cycles not at all
    def floats(a):
        r = smooth_rhythm(t, _circuit(a, t))
        return r["cycle_period"], r["start_phases"], r["duty_cycles"]

    _, (d_period, d_phases, d_duty) = jax.jvp(floats, (1.0,), (1.0,))
    h = 1e-6
    (p1, ph1, du1), (p0, ph0, du0) = floats(1.0 + h), floats(1.0 - h)
    assert float(d_period) == pytest.approx(float(p1 - p0) / (2 * h), rel=1e-5)  # exact derivative of the surrogate
    np.testing.assert_allclose(np.asarray(d_phases), np.asarray(ph1 - ph0) / (2 * h), atol=1e-5)
    np.testing.assert_allclose(np.asarray(d_duty), np.asarray(du1 - du0) / (2 * h), atol=1e-5)
    # ... and close to the true one: the chord crossings' derivative is first order in the sampling step
    assert float(d_period) == pytest.approx(PERIOD, rel=5e-3)
    np.testing.assert_allclose(np.asarray(d_phases), 0.0, atol=5e-3)
    np.testing.assert_allclose(np.asarray(d_duty), 0.0, atol=5e-3)


def test_rhythm_loss_residuals_and_errors():
    t = jnp.arange(0.0, 5600.0, 0.1)
    V = _circuit(1.0, t)
    f = smooth_rhythm(t, V)
    sol = jn.Solution(t=t, V=V, ys=None, y_final=jnp.zeros(3), status=jnp.zeros((), jnp.int32), num_steps=0,
                      num_accepted=0, spike_times=None, n_spikes=None, v_min=None, v_max=None, t0=0.0, t_end=5600.0,
                      transient=0.0, threshold=-10.0, state_names=("a", "b", "c"))  # fmt: skip
    target = {"cycle_period": 1100.0, "start_phases": (0.3, 0.6)}
    loss = rhythm(target, weights={"cycle_period": 4.0})
    expected = 4.0 * (float(f["cycle_period"]) / 1100.0 - 1) ** 2 + np.sum((np.asarray(f["start_phases"]) - [0.3, 0.6]) ** 2)
    assert float(loss(sol)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="unknown feature 'period'"):
        rhythm({"period": 1000.0})
    with pytest.raises(ValueError, match=r"target\['start_phases'\] must be 2 finite number"):
        rhythm({"start_phases": 0.3})
    with pytest.raises(ValueError, match=r"target\['cycle_period'\] must be 1 finite number\(s\) > 0"):
        rhythm({"cycle_period": -5.0})


@pytest.mark.slow
def test_rhythm_loss_gradient_of_a_pyloric_circuit_matches_finite_differences():
    net = jn.Pyloric2004("AB/PD 3", "LP 2", "PY 4", 3.0, 3.0, 0.0, 3.0, 30.0, 1.0, 30.0)
    proto = dict(t_end=6000.0, y0=net.warm_start(20000.0), save=jn.SaveAt(transient=2000.0, save_dt=0.1),
                 solver=jn.ExpEuler(dt=0.025))  # fmt: skip
    loss = rhythm({"cycle_period": 1400.0, "start_phases": (0.35, 0.62)})
    vals = {"synapses.6.g": 30.0}
    _, grad = loss_and_gradient(net, loss, vals, **proto)
    h = 1e-5  # the loss has kinks where a spike's crossing moves to the next sample: small steps
    lp = np.ravel(loss_and_gradient(net, loss, {"synapses.6.g": 30.0 + h}, **proto)[0])[0]
    lm = np.ravel(loss_and_gradient(net, loss, {"synapses.6.g": 30.0 - h}, **proto)[0])[0]
    assert float(np.ravel(grad["synapses.6.g"])[0]) == pytest.approx((lp - lm) / (2 * h), rel=1e-2)
