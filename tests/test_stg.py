"""Prinz 2003 and Liu 1998: published bursters burst with the period of an independent scipy solve."""

import numpy as np
import pytest

import jaxneuron as jn
from reference_models import (
    LIU_XOLOTL_BURSTER,
    burst_stats,
    liu_rhs,
    liu_steady,
    prinz_rhs,
    prinz_steady,
    reference_spike_times,
    solve_reference,
    upward_crossings,
)

T_END, TRANSIENT, GAP = 6000.0, 2000.0, 150.0
LIU_T_END, LIU_TRANSIENT, LIU_GAP = 3000.0, 1000.0, 50.0


@pytest.fixture(scope="module")
def fig2c_reference():
    g = np.array(jn.PRINZ2003_SETS["fig2c_bursting"])
    t_eval = np.arange(0.0, T_END, 0.05)
    t, Y = solve_reference(prinz_rhs, prinz_steady(g), T_END, t_eval, args=(g,), rtol=1e-10, atol=1e-10)
    spikes = upward_crossings(t, Y[0])
    return burst_stats(spikes[spikes > TRANSIENT], GAP)


@pytest.mark.parametrize("solver", [jn.Kvaerno5(rtol=1e-8, atol=1e-8), jn.Tsit5(rtol=1e-8, atol=1e-8)], ids=["kvaerno5", "tsit5"])
def test_published_burster_period_and_spikes_per_burst(fig2c_reference, solver):
    ref_periods, ref_counts = fig2c_reference
    assert ref_periods.size >= 3 and np.all(ref_counts >= 2)
    model = jn.Prinz2003.from_conductances(jn.PRINZ2003_SETS["fig2c_bursting"])
    sol = jn.simulate(model, y0=model.steady_state(V=-50.0, Ca=0.05), t_end=T_END, save=jn.SaveAt(save_dt=0.05), solver=solver)
    assert int(sol.status) == 0
    spikes = upward_crossings(np.asarray(sol.t), np.asarray(sol.V))
    periods, counts = burst_stats(spikes[spikes > TRANSIENT], GAP)
    assert np.median(periods) == pytest.approx(np.median(ref_periods), rel=5e-3)
    np.testing.assert_array_equal(counts[:3], ref_counts[:3])


def test_default_prinz_is_the_ABPD2_burster():
    model = jn.Prinz2003()
    g = [float(getattr(model, n)) for n in jn.STG_CONDUCTANCES]
    assert g == list(jn.PRINZ2004_CELLS["AB/PD 2"])


@pytest.fixture(scope="module")
def liu_reference():
    """Spike times of a tight scipy solve (LSODA, rtol = atol = 1e-10) of the independent numpy Liu
    1998 model (reference_models.liu_rhs, spec section 4) with xolotl's bursting set."""
    return reference_spike_times(liu_rhs, liu_steady(), LIU_T_END, args=(np.array(LIU_XOLOTL_BURSTER),))


def test_liu_default_set_bursts_like_the_scipy_reference(liu_reference):
    model = jn.Liu1998()
    assert [float(getattr(model, n)) for n in jn.STG_CONDUCTANCES] == list(LIU_XOLOTL_BURSTER)  # spec section 4
    sol = jn.simulate(model, t_end=LIU_T_END, save=jn.SaveAt(save_dt=0.05), solver=jn.Tsit5(rtol=1e-8, atol=1e-8))
    assert int(sol.status) == 0
    spikes = upward_crossings(np.asarray(sol.t), np.asarray(sol.V))
    # every spike of the reference, at its time (the trace's linear interpolation between samples
    # 0.05 ms apart and the solver tolerance: well below 0.01 ms)
    assert spikes.size == liu_reference.size >= 50
    np.testing.assert_allclose(spikes, liu_reference, rtol=0, atol=0.01)
    periods, counts = burst_stats(spikes[spikes > LIU_TRANSIENT], LIU_GAP)
    ref_periods, ref_counts = burst_stats(liu_reference[liu_reference > LIU_TRANSIENT], LIU_GAP)
    assert periods.size == ref_periods.size >= 5
    np.testing.assert_allclose(periods, ref_periods, rtol=1e-4)
    np.testing.assert_array_equal(counts, ref_counts)
    assert np.all(counts == 3)  # a burster: 3 spikes per burst ...
    assert np.ptp(periods) / np.mean(periods) < 0.01  # ... periodic after the transient


def test_currents_sum_to_the_voltage_equation():
    model = jn.Prinz2003()
    y = model.steady_state(V=-30.0, Ca=2.0)
    total = sum(model.currents(y).values())
    assert float(model.vector_field(0.0, y, 1.5)[0]) == pytest.approx(float(-total + 1.5) / 1.0, rel=1e-12)
    assert set(model.currents(y)) == {"Na", "CaT", "CaS", "A", "KCa", "Kd", "H", "leak"}


def test_calcium_is_not_clamped_as_a_state():
    model = jn.Prinz2003()
    y = model.steady_state(V=-50.0, Ca=0.0)  # Ca below its floor: only the log is guarded
    dy = model.vector_field(0.0, y)
    assert np.all(np.isfinite(np.asarray(dy)))
    assert float(dy[1]) > 0.05 / 200.0  # Ca influx through open Ca channels drives Ca back up
    # the state is used as is (no clamp): the buffering term sees Ca = -0.01
    y_neg = y.at[1].set(-0.01)
    diff = float(model.vector_field(0.0, y_neg)[1] - dy[1])
    assert diff == pytest.approx(0.01 / 200.0, rel=1e-6)
