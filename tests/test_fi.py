"""f-I curve of the Hodgkin-Huxley model: rates, rheobase and onset of repetitive firing against an
independent scipy solve of tests/reference_models.py (same protocol: constant current from the
-65 mV steady state, spikes = upward crossings of -10 mV, rate = 1000 / mean ISI after 200 ms).
"""

import numpy as np
import pytest
import reference_analysis as ref
from reference_models import hh_rhs, hh_steady
from scipy.integrate import solve_ivp

import jaxneuron as jn

T_END, TRANSIENT, SAVE_DT = 1000.0, 200.0, 0.05
CURRENTS = np.array([0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 6.5, 7.0, 8.0, 9.0, 10.0, 12.0, 15.0, 20.0])


def reference_response(current, rtol=1e-10):
    """(any spike, repetitive, rate Hz) of the scipy HH solve, defined as in jaxneuron.FICurve."""
    t_eval = SAVE_DT * np.arange(int(round(T_END / SAVE_DT)) + 1)
    sol = solve_ivp(hh_rhs, (0.0, T_END), hh_steady(-65.0), method="LSODA", t_eval=t_eval,
                    args=(lambda t: current,), rtol=rtol, atol=rtol)  # fmt: skip
    assert sol.success
    spikes = np.asarray(ref.crossing_times(sol.t, sol.y[0]))
    window = spikes[spikes >= TRANSIENT]
    if window.size < 2:
        return spikes.size > 0, False, 0.0
    repetitive = T_END - window[-1] <= 1.5 * np.diff(window).max()
    return spikes.size > 0, bool(repetitive), (1000.0 / np.diff(window).mean() if repetitive else 0.0)


@pytest.fixture(scope="module")
def fi():
    return jn.fi_curve(jn.HodgkinHuxley(), CURRENTS, t_end=T_END, transient=TRANSIENT, save_dt=SAVE_DT,
                       solver=jn.Tsit5(rtol=1e-9, atol=1e-9), refine=2, refine_points=8)  # fmt: skip


def test_hh_fi_curve_matches_reference(fi):
    assert np.all(np.asarray(fi.status) == 0)
    rate = np.asarray(fi.rate)
    assert np.all(rate[CURRENTS <= 6.0] == 0.0) and np.all(rate[CURRENTS >= 6.5] > 50.0)  # class II jump
    assert np.all(np.diff(rate[CURRENTS >= 6.5]) > 0)
    for i in (3, 7, 8, 12, 15):
        spiked, repetitive, r = reference_response(CURRENTS[i])
        assert bool(fi.repetitive[i]) == repetitive, CURRENTS[i]
        assert bool(np.isfinite(fi.first_spike[i])) == spiked, CURRENTS[i]
        np.testing.assert_allclose(float(fi.rate[i]), r, rtol=1e-3, err_msg=str(CURRENTS[i]))


def test_hh_rheobase_and_onset_match_reference(fi):
    # 2 refinement rounds of 8 points shrink the 0.5 uA/cm^2 grid bracket 81-fold; jaxneuron's
    # bracket [value - resolution, value] must contain the reference threshold: the reference
    # solve must not fire just below the bracket and must fire just above it.
    margin = 2e-4
    for value, resolution, key in ((fi.rheobase, fi.rheobase_resolution, 0), (fi.onset, fi.onset_resolution, 1)):
        value, resolution = float(value), float(resolution)
        np.testing.assert_allclose(resolution, 0.5 / 81, rtol=1e-9)
        assert not reference_response(value - resolution - margin)[key], (key, value)
        assert reference_response(value + margin)[key], (key, value)
    # HH literature: from rest, repetitive firing starts near the saddle-node of cycles, ~6.26 uA/cm^2
    assert 6.2 < float(fi.onset) < 6.3
    assert 2.0 < float(fi.rheobase) < 2.5


def test_fi_curve_rejects_batched_model():
    with pytest.raises(ValueError, match="unbatched"):
        jn.fi_curve(jn.HodgkinHuxley(g_Na=np.array([100.0, 120.0])), [1.0, 2.0])
    with pytest.raises(ValueError, match="transient"):
        jn.fi_curve(jn.HodgkinHuxley(), [1.0], t_end=100.0, transient=200.0)
