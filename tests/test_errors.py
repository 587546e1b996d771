"""Bad input gets a clear error naming the field and the allowed range."""

import json
import os
import subprocess
import sys

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
    with pytest.raises(ValueError, match=r"SaveAt.transient must be shorter than the simulation \(t_end - t0 = 10.0 ms\)"):
        jn.simulate(jn.HodgkinHuxley(), t_end=10.0, save=jn.SaveAt(transient=20.0))
    with pytest.raises(ValueError, match="SaveAt.save_dt must be a positive"):
        jn.SaveAt(save_dt=0.0)
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


X64_PROBE = r"""
import json
import jax
facts = {"x64_before_import": bool(jax.config.jax_enable_x64)}
import numpy as np
import jaxneuron as jn
facts["x64_after_import"] = bool(jax.config.jax_enable_x64)
facts["parameter_dtype"] = str(jn.HodgkinHuxley().g_Na.dtype)
facts["V_dtype"] = str(jn.simulate(jn.HodgkinHuxley(), t_end=1.0, solver=jn.ExpEuler()).V.dtype)
jax.config.update("jax_enable_x64", False)  # a user switches float64 off after importing jaxneuron
for name, call in {
    "simulate_kvaerno5": lambda: jn.simulate(jn.HodgkinHuxley(), t_end=1.0, solver=jn.Kvaerno5()),
    "simulate_default_solver": lambda: jn.simulate(jn.HodgkinHuxley(), t_end=1.0),
    "spikes_kvaerno5": lambda: jn.simulate(jn.HodgkinHuxley(), t_end=1.0, solver=jn.Kvaerno5(), save=jn.SaveAt(spikes=True)),
    "diffrax_kvaerno5": lambda: jn.simulate(jn.HodgkinHuxley(), t_end=1.0, solver=jn.Kvaerno5(), engine=jn.DiffraxEngine()),
}.items():
    try:
        call()
        facts[name] = None
    except Exception as e:
        facts[name] = [type(e).__name__, str(e)]
# an explicit float32 solve is still allowed, and runs in float32
facts["float32_V_dtype"] = str(jn.simulate(jn.HodgkinHuxley(), t_end=1.0, solver=jn.ExpEuler(dtype="float32")).V.dtype)
print(json.dumps(facts))
"""


def test_float64_is_switched_on_by_import_and_checked():
    """In a fresh interpreter (tests/conftest.py switches x64 on for the test process, which would
    hide what jaxneuron itself does): importing jaxneuron switches float64 on, and a float64 solve
    after x64 was switched off again is refused with a clear error."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    env["JAX_PLATFORMS"] = "cpu"
    r = subprocess.run([sys.executable, "-c", X64_PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    facts = json.loads(r.stdout.strip().splitlines()[-1])
    assert facts["x64_before_import"] is False  # JAX's own default: the switch below is jaxneuron's
    assert facts["x64_after_import"] is True
    assert facts["parameter_dtype"] == "float64" and facts["V_dtype"] == "float64"
    expected = {"simulate_kvaerno5": "Kvaerno5 needs float64", "simulate_default_solver": "needs float64",
                "spikes_kvaerno5": "Kvaerno5 needs float64", "diffrax_kvaerno5": "Kvaerno5 needs float64"}  # fmt: skip
    for name, text in expected.items():
        assert facts[name] is not None, f"{name}: no error with x64 off"
        kind, message = facts[name]
        assert kind == "RuntimeError" and text in message and "jax_enable_x64 is off" in message, (name, kind, message)
        assert "dtype='float32'" in message  # says how to get a float32 solve
    assert facts["float32_V_dtype"] == "float32"
