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
