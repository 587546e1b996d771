"""Networks of integrate-and-fire cells coupled by spike-driven exponential synapses, against an
independent scipy event loop over the whole network (tests/reference_if.py)."""

import math

import numpy as np
import pytest

import jaxneuron as jn
from reference_if import network_event_loop


def _spikes(x):
    x = np.asarray(x)
    return x[np.isfinite(x)]


def _pair(t_ref=2.0, g_ab=0.6, g_ba=0.3):
    """A (driven LIF) excites B (LIF below rheobase alone); B inhibits A."""
    cells = {"A": jn.LIF(t_ref=t_ref), "B": jn.LIF(t_ref=t_ref)}
    syn = [jn.ExponentialSynapse.excitatory("A", "B", g=g_ab, tau=5.0), jn.ExponentialSynapse.inhibitory("B", "A", g=g_ba, tau=10.0)]
    return jn.Network(cells, syn, stimulated=("A",))


def _pair_reference(I_A, t_end, t_ref=2.0, g_ab=0.6, g_ba=0.3):
    # states: V_A, V_B, s_AB, s_BA (per area: C 1 uF/cm^2, g_L 0.1 mS/cm^2, E_L -70 mV)
    def rhs(t, y):
        VA, VB, sab, sba = y
        dA = (-0.1 * (VA + 70.0) - g_ba * sba * (VA + 80.0) + I_A) / 1.0
        dB = (-0.1 * (VB + 70.0) - g_ab * sab * (VB - 0.0)) / 1.0
        return [dA, dB, -sab / 5.0, -sba / 10.0]

    def reset_a(y):
        return np.array([-70.0, y[1], y[2] + 1.0, y[3]])

    def reset_b(y):
        return np.array([y[0], -70.0, y[2], y[3] + 1.0])

    return network_event_loop(rhs, [-70.0, -70.0, 0.0, 0.0], t_end, [(0, -55.0, reset_a, t_ref, [0]), (1, -55.0, reset_b, t_ref, [1])])


def test_network_layout_and_events():
    net = _pair()
    assert net.state_names == ("A.V", "B.V", "A->B.s", "B->A.s") and net.voltage_states == (0, 1)
    evs = net.events()
    assert [ev.state for ev in evs] == [0, 1] and [ev.held for ev in evs] == [(0,), (1,)]
    y = np.array([-50.0, -60.0, 0.5, 0.25])
    np.testing.assert_array_equal(np.asarray(evs[0].reset(y)), [-70.0, -60.0, 1.5, 0.25])
    np.testing.assert_array_equal(np.asarray(evs[1].reset(y)), [-50.0, -70.0, 0.5, 1.25])
    # the vector field: leak, synaptic conductances, decays (closed form at one state)
    dy = np.asarray(net.vector_field(0.0, y, 3.0))
    np.testing.assert_allclose(dy, [-0.1 * 20 - 0.3 * 0.25 * 30 + 3.0, -0.1 * 10 - 0.6 * 0.5 * (-60.0), -0.1, -0.025], rtol=1e-13)


@pytest.mark.parametrize("solver", [jn.Tsit5(rtol=1e-10, atol=1e-10), jn.Kvaerno5(rtol=1e-10, atol=1e-10)], ids=["tsit5", "kvaerno5"])
def test_two_lif_network_spike_times_match_a_scipy_event_loop(solver):
    I = np.array([2.5, 4.0])
    sol = jn.simulate(_pair(), t_end=300.0, stimulus=I, solver=solver, save=jn.SaveAt(states=None, spikes=True, max_spikes=64))
    assert sol.spike_times.shape == (2, 2, 64)
    for m in range(2):
        ref_a, ref_b = _pair_reference(I[m], 300.0)
        assert len(ref_a) >= 5 and len(ref_b) >= 5  # B (unstimulated) fires only through the synapse from A
        np.testing.assert_allclose(_spikes(sol.spike_times[m, 0]), ref_a, rtol=0, atol=1e-6)
        np.testing.assert_allclose(_spikes(sol.spike_times[m, 1]), ref_b, rtol=0, atol=1e-6)


def test_one_cell_network_equals_the_cell():
    kw = dict(t_end=100.0, stimulus=np.array([600.0, 900.0]), save=jn.SaveAt(states=None, spikes=True))
    net = jn.simulate(jn.Network({"x": jn.AdEx()}), **kw)
    cell = jn.simulate(jn.AdEx(), **kw)
    np.testing.assert_allclose(_spikes(net.spike_times), _spikes(cell.spike_times), atol=1e-9)


def test_mixed_network_hh_spikes_are_threshold_crossings_and_lif_spikes_events():
    # an HH cell and a LIF cell side by side (uncoupled): each keeps its own spikes
    net = jn.Network({"hh": jn.HodgkinHuxley(), "lif": jn.LIF()})
    sol = jn.simulate(net, t_end=100.0, stimulus=10.0, save=jn.SaveAt(states=None, spikes=True), solver=jn.Tsit5(rtol=1e-8, atol=1e-8))
    hh = jn.simulate(jn.HodgkinHuxley(), t_end=100.0, stimulus=10.0, save=jn.SaveAt(states=None, spikes=True), solver=jn.Tsit5(rtol=1e-8, atol=1e-8))
    lif = jn.simulate(jn.LIF(), t_end=100.0, stimulus=10.0, save=jn.SaveAt(states=None, spikes=True), solver=jn.Tsit5(rtol=1e-8, atol=1e-8))
    np.testing.assert_allclose(_spikes(sol.spike_times[0]), _spikes(hh.spike_times), atol=1e-5)
    np.testing.assert_allclose(_spikes(sol.spike_times[1]), _spikes(lif.spike_times), atol=1e-6)


def test_fixed_step_network_converges_to_the_reference():
    ref_a, ref_b = _pair_reference(4.0, 300.0)
    errors = []
    for dt in (0.02, 0.01):
        sol = jn.simulate(_pair(), t_end=300.0, stimulus=4.0, solver=jn.ExpEuler(dt=dt), save=jn.SaveAt(states=None, spikes=True))
        a, b = _spikes(sol.spike_times[0]), _spikes(sol.spike_times[1])
        assert len(a) == len(ref_a) and len(b) == len(ref_b)
        errors.append(max(np.max(np.abs(a - ref_a)), np.max(np.abs(b - ref_b))))
    assert errors[0] < 0.5 and errors[1] < 0.6 * errors[0], errors  # first order: about halves with dt


def test_network_of_if_cells_batches_over_synapse_strengths():
    g = np.array([0.2, 0.6, 1.0])
    sol = jn.simulate(_pair(g_ab=g), t_end=200.0, stimulus=4.0, solver=jn.Tsit5(rtol=1e-8, atol=1e-8),
                      save=jn.SaveAt(states=None, spikes=True))  # fmt: skip
    for i, gi in enumerate(g):
        one = jn.simulate(_pair(g_ab=float(gi)), t_end=200.0, stimulus=4.0, solver=jn.Tsit5(rtol=1e-8, atol=1e-8),
                          save=jn.SaveAt(states=None, spikes=True))  # fmt: skip
        np.testing.assert_allclose(_spikes(sol.spike_times[i]), _spikes(one.spike_times), atol=1e-9)
    assert list(np.asarray(sol.n_spikes)[:, 1]) == sorted(np.asarray(sol.n_spikes)[:, 1])  # stronger drive, more B spikes


def test_exponential_synapse_from_a_cell_without_events_is_refused():
    with pytest.raises(ValueError, match="presynaptic cell .HodgkinHuxley. has no spike events"):
        jn.Network({"a": jn.HodgkinHuxley(), "b": jn.LIF()}, [jn.ExponentialSynapse.excitatory("a", "b", 0.1)])
    with pytest.raises(TypeError, match="receives graded synapses or gap junctions"):
        jn.Network({"a": jn.LIF(), "b": jn.LIF()}, gap_junctions=[jn.GapJunction("a", "b", 1.0)])
    with pytest.raises(ValueError, match="ExponentialSynapse.tau must be finite and > 0"):
        jn.ExponentialSynapse("a", "b", g=1.0, tau=0.0)
    assert math.isclose(float(jn.ExponentialSynapse.inhibitory("a", "b").E_s), -80.0)
