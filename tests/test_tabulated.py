"""ExpEuler(tabulated=...): the looked-up gate kinetics give the untabulated scheme's steps (at
the grid voltage for "nearest", to the interpolation error for "linear"), the same spike trains on
well-behaved cells, and no silent clipping."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuron as jn
from jaxneuron._batching import flatten_members
from jaxneuron.solvers.fixed import _make_step
from jaxneuron.solvers.tabulated import DV_mV, V_RANGE_mV
from reference_models import upward_crossings


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_one_step_equals_the_untabulated_step(mode):
    rng = np.random.default_rng(0)
    n = 64
    g = np.asarray(jn.PRINZ2003_SETS["fig2c_bursting"]) * rng.uniform(0.5, 1.5, (n, 8))
    model, axes = flatten_members(jn.Prinz2003.from_conductances(g), (n,))
    y = np.tile(np.asarray(model.default_y0()), (n, 1))
    y[:, 0] = rng.uniform(-90.0, 40.0, n)  # V anywhere in its physiological range
    y[:, 1] = rng.uniform(0.05, 5.0, n)
    y[:, 2:] = rng.uniform(0.0, 1.0, (n, 11))
    yT = jnp.asarray(y.T)
    exact_step = _make_step(model, None, axes, None, n)
    exact = exact_step(yT, 0.0, 0.025)
    tab = _make_step(model, None, axes, None, n, mode, 0.025, jnp.float64)(yT, 0.0, 0.025)
    np.testing.assert_allclose(np.asarray(tab[:2]), np.asarray(exact[:2]), rtol=1e-14)  # V, Ca rows are not tabulated
    if mode == "linear":
        np.testing.assert_allclose(np.asarray(tab[2:]), np.asarray(exact[2:]), atol=2e-7)  # interpolation error
        return
    # "nearest": exactly the untabulated gate update at the grid voltage nearest to V (0.005 mV away at most)
    V_grid = V_RANGE_mV[0] + DV_mV * np.round((y[:, 0] - V_RANGE_mV[0]) / DV_mV)
    assert np.max(np.abs(V_grid - y[:, 0])) <= DV_mV / 2 + 1e-12
    at_grid = exact_step(yT.at[0].set(jnp.asarray(V_grid)), 0.0, 0.025)
    np.testing.assert_allclose(np.asarray(tab[2:]), np.asarray(at_grid[2:]), rtol=0, atol=1e-13)
    # and within the steepest steady state's slope (0.051 / mV) times 0.005 mV of the exact update
    err = np.max(np.abs(np.asarray(tab[2:]) - np.asarray(exact[2:])))
    assert 0 < err <= 0.051 * DV_mV / 2


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_spike_trains_match_the_untabulated_scheme(mode):
    model = jn.Prinz2003.from_conductances([jn.PRINZ2003_SETS["fig2c_bursting"], jn.PRINZ2003_SETS["ptm2003_tonic"]])
    runs = [jn.simulate(model, t_end=2000.0, solver=jn.ExpEuler(dt=0.025, tabulated=tab), save=jn.SaveAt(save_dt=0.025))
            for tab in (False, mode)]  # fmt: skip
    for i in range(2):
        a, b = (upward_crossings(np.asarray(r.t), np.asarray(r.V[i])) for r in runs)
        assert a.size == b.size > 5
        # "nearest" moves the kinetics' voltage by up to 0.005 mV: over 2 s the spike times drift by up
        # to 0.022 ms (measured), below one 0.025 ms step and far below the scheme's own error
        np.testing.assert_allclose(b, a, atol=0.01 if mode == "linear" else 0.05)


def test_leaving_the_table_fails_that_member_and_hh_is_refused():
    model = jn.Prinz2003(g_Na=jnp.array([100.0, 100.0]))
    sol = jn.simulate(model, t_end=50.0, stimulus=jnp.array([0.0, 5e4]), solver=jn.ExpEuler(tabulated=True),
                      save=jn.SaveAt(states=None))  # fmt: skip
    # V driven above 100 mV: NaN, not clipped
    np.testing.assert_array_equal(np.asarray(sol.status), [jn.Status.OK, jn.Status.NON_FINITE])
    with pytest.raises(ValueError, match="tabulated"):
        jn.simulate(jn.HodgkinHuxley(), t_end=10.0, solver=jn.ExpEuler(tabulated=True))
    with pytest.raises(ValueError, match="QueueEngine only"):  # the Diffrax engine has no tables
        jn.simulate(jn.Prinz2003(), t_end=10.0, solver=jn.ExpEuler(tabulated=True), engine=jn.DiffraxEngine())
    with pytest.raises(ValueError, match="'nearest', 'linear'"):
        jn.ExpEuler(tabulated="cubic")
    assert jn.ExpEuler(tabulated=True).table_mode == "nearest" and jn.ExpEuler().table_mode is None
