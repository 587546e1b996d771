"""Each solver converges to a tight independent reference as its tolerance or step shrinks."""

import numpy as np
import pytest

import jaxneuron as jn
from reference_models import hh_rhs, hh_steady, solve_reference

T_END = 30.0
I_AMP = 10.0


@pytest.fixture(scope="module")
def reference_final():
    _, Y = solve_reference(hh_rhs, hh_steady(-65.0), T_END, [T_END], args=(lambda t: I_AMP,), rtol=1e-12, atol=1e-12, method="Radau")
    return Y[:, -1]


def _error(solver, ref):
    sol = jn.simulate(jn.HodgkinHuxley(), t_end=T_END, stimulus=I_AMP, save=jn.SaveAt(final=True), solver=solver)
    assert int(sol.status) == 0
    return np.max(np.abs(np.asarray(sol.y_final) - ref) / np.array([10.0, 1.0, 1.0, 1.0]))


@pytest.mark.parametrize("cls", [jn.Kvaerno5, jn.Kvaerno3, jn.Tsit5])
def test_adaptive_solvers_converge_with_tolerance(cls, reference_final):
    errs = [_error(cls(rtol=tol, atol=tol), reference_final) for tol in (1e-5, 1e-7, 1e-9)]
    assert errs[2] < 1e-7
    # global error falls at least 10x per 100x tolerance (measured: 26x to 157x)
    assert errs[1] < errs[0] / 10 and errs[2] < errs[1] / 10


def test_exp_euler_is_first_order(reference_final):
    dts = [0.01, 0.005, 0.0025]
    errs = [_error(jn.ExpEuler(dt=dt), reference_final) for dt in dts]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    np.testing.assert_allclose(orders, 1.0, atol=0.15)


def test_max_steps_flags_member_and_keeps_the_rest():
    model = jn.HodgkinHuxley(g_Na=np.array([120.0, 120.0]))
    stim = jn.Constant(np.array([0.0, 10.0]))  # member 0 rests (169 steps), member 1 fires (831)
    sol = jn.simulate(model, t_end=100.0, stimulus=stim, solver=jn.Tsit5(max_steps=400), save=jn.SaveAt(dt=1.0))
    status = np.asarray(sol.status)
    assert status[0] == 0 and status[1] == 1
    assert np.all(np.isfinite(np.asarray(sol.V[0])))
    assert jn.STATUS[int(status[1])] == "max_steps reached"


def test_float32_refused_by_implicit_solvers_and_allowed_for_explicit():
    with pytest.raises(ValueError, match="float32"):
        jn.Kvaerno5(dtype="float32")
    sol = jn.simulate(jn.HodgkinHuxley(), t_end=20.0, stimulus=10.0, solver=jn.ExpEuler(dt=0.01, dtype="float32"))
    assert sol.V.dtype == np.float32
    ref = jn.simulate(jn.HodgkinHuxley(), t_end=20.0, stimulus=10.0, solver=jn.ExpEuler(dt=0.01))
    assert ref.V.dtype == np.float64
    np.testing.assert_allclose(np.asarray(sol.V), np.asarray(ref.V), atol=0.05)


def test_step_edges_are_jump_times_for_adaptive_solvers():
    # a step onset at 5.3 ms: the solver lands on it, so V stays exactly flat before it
    sol = jn.simulate(jn.HodgkinHuxley(), y0=jn.HodgkinHuxley().steady_state(V=-65.0), t_end=6.0,
                      stimulus=jn.Step(50.0, 5.3, 5.9), save=jn.SaveAt(t0=5.0, dt=0.1), solver=jn.Kvaerno5())  # fmt: skip
    V = np.asarray(sol.V)
    t = np.asarray(sol.t)
    assert np.ptp(V[t <= 5.3 - 1e-9]) < 0.01
    assert V[t >= 5.8][0] > V[0] + 10.0
