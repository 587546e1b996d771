"""Stimuli: values, jump times, batching."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuron as jn

T = np.linspace(-5.0, 105.0, 1101)


def test_values():
    np.testing.assert_allclose(np.asarray(jn.Constant(2.5)(T)), 2.5)
    np.testing.assert_array_equal(np.asarray(jn.Step(3.0, 10.0, 20.0)(T)), np.where((T >= 10) & (T < 20), 3.0, 0.0))
    pt = jn.PulseTrain(amplitude=1.0, width=2.0, period=10.0, n_pulses=3, t_start=5.0)
    expected = np.where((T >= 5) & (T < 35) & (np.mod(T - 5, 10) < 2 - 1e-12), 1.0, 0.0)
    np.testing.assert_array_equal(np.asarray(pt(T)), expected)
    sine = jn.Sine(amplitude=2.0, frequency=50.0, phase=0.3, offset=1.0)
    np.testing.assert_allclose(np.asarray(sine(T[T >= 0])), 1.0 + 2.0 * np.sin(2 * np.pi * 50.0 * T[T >= 0] / 1000 + 0.3))
    s = jn.Sampled(jnp.array([0.0, 10.0, 30.0]), jnp.array([0.0, 5.0, -5.0]))
    np.testing.assert_allclose(np.asarray(s(np.array([-1.0, 5.0, 20.0, 40.0]))), [0.0, 2.5, 0.0, -5.0])
    f = jn.Function(lambda t: 0.1 * t)
    assert float(f(20.0)) == pytest.approx(2.0)


def test_jump_times():
    np.testing.assert_array_equal(np.asarray(jn.Step(1.0, 10.0, 20.0).jump_times()), [10.0, 20.0])
    pt = jn.PulseTrain(amplitude=1.0, width=2.0, period=10.0, n_pulses=2, t_start=5.0)
    np.testing.assert_array_equal(np.sort(np.asarray(pt.jump_times())), [5.0, 7.0, 15.0, 17.0])


def test_bad_stimuli():
    with pytest.raises(ValueError, match="t_off must be > Step.t_on"):
        jn.Step(1.0, 10.0, 5.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        jn.Sampled(jnp.array([0.0, 0.0, 1.0]), jnp.zeros(3))
    with pytest.raises(ValueError, match="n_pulses"):
        jn.PulseTrain(1.0, 1.0, 5.0, n_pulses=0)


def test_sampled_waveform_per_member_and_callable_stimulus():
    t = jnp.array([0.0, 20.0])
    values = jnp.array([[0.0, 0.0], [10.0, 10.0]])  # member 0: no current, member 1: 10 uA/cm^2
    kw = dict(t_end=20.0, save=jn.SaveAt(save_dt=1.0), solver=jn.Tsit5())
    sampled = jn.simulate(jn.HodgkinHuxley(), stimulus=jn.Sampled(t, values), **kw)
    const = jn.simulate(jn.HodgkinHuxley(), stimulus=jn.Constant(jnp.array([0.0, 10.0])), **kw)
    np.testing.assert_allclose(np.asarray(sampled.V), np.asarray(const.V), atol=1e-8)
    # a callable on the Diffrax engine (the work queue: see the next test) and on the fixed-step scan
    for engine, solver in ((jn.DiffraxEngine(), jn.Tsit5()), (jn.QueueEngine(), jn.ExpEuler(dt=0.01))):
        kw_e = dict(kw, solver=solver, engine=engine)
        fn = jn.simulate(jn.HodgkinHuxley(), stimulus=lambda t: 10.0, **kw_e)
        const = jn.simulate(jn.HodgkinHuxley(), stimulus=10.0, **kw_e)
        np.testing.assert_allclose(np.asarray(fn.V), np.asarray(const.V), atol=1e-8)


@pytest.mark.parametrize("solver", [jn.Tsit5(), jn.Kvaerno5()], ids=["tsit5", "kvaerno5"])
def test_callable_stimulus_on_the_work_queue(solver):
    """A Python callable stimulus (jn.Function) on the work queue's adaptive solvers equals the
    same constant current (the queue carries only the array leaves of its slots' stimuli)."""
    kw = dict(t_end=20.0, save=jn.SaveAt(save_dt=1.0), solver=solver)
    fn = jn.simulate(jn.HodgkinHuxley(), stimulus=lambda t: 10.0, **kw)
    const = jn.simulate(jn.HodgkinHuxley(), stimulus=10.0, **kw)
    np.testing.assert_allclose(np.asarray(fn.V), np.asarray(const.V), atol=1e-8)
