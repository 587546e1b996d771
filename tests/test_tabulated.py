"""ExpEuler(tabulated=True): the interpolated gate kinetics give the untabulated scheme's steps to
the interpolation error, the same spike trains on well-behaved cells, and no silent clipping."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuron as jn
from jaxneuron._batching import flatten_members
from jaxneuron.solvers.fixed import _make_step
from reference_models import upward_crossings


def test_one_step_equals_the_untabulated_step():
    rng = np.random.default_rng(0)
    n = 64
    g = np.asarray(jn.PRINZ2003_SETS["fig2c_bursting"]) * rng.uniform(0.5, 1.5, (n, 8))
    model, axes = flatten_members(jn.Prinz2003.from_conductances(g), (n,))
    y = np.tile(np.asarray(model.default_y0()), (n, 1))
    y[:, 0] = rng.uniform(-90.0, 40.0, n)  # V anywhere in its physiological range
    y[:, 1] = rng.uniform(0.05, 5.0, n)
    y[:, 2:] = rng.uniform(0.0, 1.0, (n, 11))
    yT = jnp.asarray(y.T)
    exact = _make_step(model, None, axes, None, n)(yT, 0.0, 0.025)
    tab = _make_step(model, None, axes, None, n, True, 0.025, jnp.float64)(yT, 0.0, 0.025)
    np.testing.assert_allclose(np.asarray(tab[:2]), np.asarray(exact[:2]), rtol=1e-14)  # V, Ca rows are not tabulated
    np.testing.assert_allclose(np.asarray(tab[2:]), np.asarray(exact[2:]), atol=2e-7)  # gates: interpolation error


def test_spike_trains_match_the_untabulated_scheme():
    model = jn.Prinz2003.from_conductances([jn.PRINZ2003_SETS["fig2c_bursting"], jn.PRINZ2003_SETS["ptm2003_tonic"]])
    runs = [jn.simulate(model, t_end=2000.0, solver=jn.ExpEuler(dt=0.025, tabulated=tab), save=jn.SaveAt(dt=0.025))
            for tab in (False, True)]  # fmt: skip
    for i in range(2):
        a, b = (upward_crossings(np.asarray(r.t), np.asarray(r.V[i])) for r in runs)
        assert a.size == b.size > 5
        np.testing.assert_allclose(b, a, atol=0.01)


def test_leaving_the_table_fails_that_member_and_hh_is_refused():
    model = jn.Prinz2003(g_Na=jnp.array([100.0, 100.0]))
    sol = jn.simulate(model, t_end=50.0, stimulus=jnp.array([0.0, 5e4]), solver=jn.ExpEuler(tabulated=True),
                      save=jn.SaveAt(final=True))  # fmt: skip
    np.testing.assert_array_equal(np.asarray(sol.status), [0, 2])  # V driven above 100 mV: NaN, not clipped
    with pytest.raises(ValueError, match="tabulated"):
        jn.simulate(jn.HodgkinHuxley(), t_end=10.0, solver=jn.ExpEuler(tabulated=True))
    with pytest.raises(ValueError, match="fast=True"):
        jn.ExpEuler(tabulated=True, fast=False)
