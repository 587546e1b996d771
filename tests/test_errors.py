"""Bad input gets a clear error naming the field and the allowed range."""

import jax
import numpy as np
import pytest

import jaxneuron as jn


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_bad_conductance_names_field_and_range(value):
    with pytest.raises(ValueError, match=r"Prinz2003\.g_CaS must be finite and >= 0 mS/cm\^2"):
        jn.Prinz2003(g_CaS=value)


def test_bad_conductance_in_batch_reports_index():
    with pytest.raises(ValueError, match="flat index 2"):
        jn.HodgkinHuxley(g_Na=np.array([1.0, 2.0, -3.0]))


def test_non_positive_capacitance():
    with pytest.raises(ValueError, match=r"HodgkinHuxley\.C must be finite and > 0 uF/cm\^2"):
        jn.HodgkinHuxley(C=0.0)


def test_unknown_model_and_parameter_list_valid_names():
    with pytest.raises(ValueError, match="valid models: .*prinz2003"):
        jn.make_model("prinz2004")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['g_NaP'\].*g_Na"):
        jn.make_model("prinz2003", g_NaP=1.0)


@pytest.mark.parametrize("t_end", [0.0, -5.0, float("nan"), float("inf")])
def test_impossible_durations(t_end):
    with pytest.raises(ValueError, match="t_end must be a finite time"):
        jn.simulate(jn.HodgkinHuxley(), t_end=t_end)


def test_save_window_outside_simulation():
    with pytest.raises(ValueError, match=r"SaveAt.t0 must lie in the simulated interval \[0.0, 10.0\]"):
        jn.simulate(jn.HodgkinHuxley(), t_end=10.0, save=jn.SaveAt(t0=20.0))
    with pytest.raises(ValueError, match="SaveAt.dt must be a positive"):
        jn.SaveAt(dt=0.0)
    with pytest.raises(ValueError, match="SaveAt.states"):
        jn.SaveAt(states="Ca")


def test_unknown_solver_and_bad_solver_settings():
    with pytest.raises(TypeError, match="solver must be one of"):
        jn.simulate(jn.HodgkinHuxley(), t_end=1.0, solver="rk4")
    with pytest.raises(ValueError, match="rtol must be a positive"):
        jn.Kvaerno5(rtol=-1.0)
    with pytest.raises(ValueError, match="ExpEuler.dt must be a positive"):
        jn.ExpEuler(dt=0.0)


def test_bad_y0_and_batch_shapes():
    with pytest.raises(ValueError, match="y0 must have the 4 states"):
        jn.simulate(jn.HodgkinHuxley(), y0=np.zeros(3), t_end=1.0)
    with pytest.raises(ValueError, match="batch shapes do not broadcast"):
        jn.simulate(jn.HodgkinHuxley(g_Na=np.ones(3)), stimulus=np.ones(2), t_end=1.0)


def test_float64_is_on_and_checked():
    assert jax.config.jax_enable_x64
    assert jn.HodgkinHuxley().g_Na.dtype == np.float64
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(RuntimeError, match="needs float64"):
            jn.simulate(jn.HodgkinHuxley(), t_end=1.0)
    finally:
        jax.config.update("jax_enable_x64", True)
