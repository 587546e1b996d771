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


def _error(solver, ref, engine=None):
    sol = jn.simulate(jn.HodgkinHuxley(), t_end=T_END, stimulus=I_AMP, save=jn.SaveAt(states=None), solver=solver,
                      engine=engine)  # fmt: skip
    assert int(sol.status) == 0
    return np.max(np.abs(np.asarray(sol.y_final) - ref) / np.array([10.0, 1.0, 1.0, 1.0]))


# (error bound at tol 1e-9, least error reduction per 100x tolerance). Measured errors at tol
# 1e-5 / 1e-7 / 1e-9: queue Kvaerno3 5.3e-5 / 7.5e-7 / 8.6e-9, queue Tsit5 6.9e-6 / 5.1e-7 / 3.6e-9,
# Diffrax Kvaerno5 8.2e-8 / 2.2e-9 / 3.8e-11, Diffrax Tsit5 9.9e-6 / 3.8e-7 / 2.4e-9.
# The queue's Kvaerno5 with a fixed Newton tolerance of 1e-2 measured 8.9e-5 / 7.9e-7 / 9.95e-8
# (113x, then 8x: the Newton error dominated at 1e-9; with 1e-4: 3.6e-6 / 3.8e-8 / 6.1e-9), hence
# its default newton_tol = min(1e-2, 1e5 rtol): 1e-2 down to rtol 1e-7, 1e-4 at 1e-9.
_BOUNDS = {("queue", "Kvaerno5"): (1e-7, 5.0)}


@pytest.mark.parametrize(
    "cls, engine",
    [(jn.Kvaerno5, jn.QueueEngine()), (jn.Kvaerno3, jn.QueueEngine()), (jn.Tsit5, jn.QueueEngine()),
     (jn.Kvaerno5, jn.DiffraxEngine()), (jn.Tsit5, jn.DiffraxEngine())],  # Diffrax's Kvaerno3: same wiring
    ids=["kvaerno5-queue", "kvaerno3-queue", "tsit5-queue", "kvaerno5-diffrax", "tsit5-diffrax"],
)  # fmt: skip
def test_adaptive_solvers_converge_with_tolerance(cls, engine, reference_final):
    errs = [_error(cls(rtol=tol, atol=tol), reference_final, engine) for tol in (1e-5, 1e-7, 1e-9)]
    bound, factor = _BOUNDS.get((engine.name, cls.__name__), (1e-7, 10.0))
    assert errs[2] < bound, errs
    # global error falls at least `factor` x per 100x tolerance (10x unless noted above)
    assert errs[1] < errs[0] / 10 and errs[2] < errs[1] / factor, errs
    assert errs[2] < errs[0] / 500, errs


@pytest.mark.parametrize("engine", [jn.QueueEngine(), jn.DiffraxEngine()], ids=["queue", "diffrax"])
def test_exp_euler_is_first_order(engine, reference_final):
    dts = [0.01, 0.005, 0.0025]
    errs = [_error(jn.ExpEuler(dt=dt), reference_final, engine) for dt in dts]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    np.testing.assert_allclose(orders, 1.0, atol=0.15)


@pytest.mark.parametrize("engine", [jn.QueueEngine(), jn.DiffraxEngine()], ids=["queue", "diffrax"])
def test_max_steps_flags_member_and_keeps_the_rest(engine):
    model = jn.HodgkinHuxley(g_Na=np.array([120.0, 120.0]))
    stim = jn.Constant(np.array([0.0, 10.0]))  # member 0 rests (146 steps; Diffrax 169), member 1 fires (823; 831)
    sol = jn.simulate(model, t_end=100.0, stimulus=stim, solver=jn.Tsit5(max_steps=400), save=jn.SaveAt(save_dt=1.0),
                      engine=engine)
    status = np.asarray(sol.status)
    assert status[0] == 0 and status[1] == 1
    assert np.all(np.isfinite(np.asarray(sol.V[0])))
    assert status[1] == jn.Status.MAX_STEPS and jn.STATUS[int(status[1])] == "max_steps"


def test_float32_refused_by_implicit_solvers_and_allowed_for_explicit():
    with pytest.raises(ValueError, match="float32"):
        jn.Kvaerno5(dtype="float32")
    sol = jn.simulate(jn.HodgkinHuxley(), t_end=20.0, stimulus=10.0, solver=jn.ExpEuler(dt=0.01, dtype="float32"))
    assert sol.V.dtype == np.float32
    ref = jn.simulate(jn.HodgkinHuxley(), t_end=20.0, stimulus=10.0, solver=jn.ExpEuler(dt=0.01))
    assert ref.V.dtype == np.float64
    np.testing.assert_allclose(np.asarray(sol.V), np.asarray(ref.V), atol=0.05)


@pytest.mark.parametrize("engine", [jn.QueueEngine(), jn.DiffraxEngine()], ids=["queue", "diffrax"])
def test_step_edges_are_jump_times_for_adaptive_solvers(engine):
    # a step onset at 5.3 ms: the solver lands on it, so V stays exactly flat before it
    sol = jn.simulate(jn.HodgkinHuxley(), y0=jn.HodgkinHuxley().steady_state(V=-65.0), t_end=6.0,
                      stimulus=jn.Step(50.0, 5.3, 5.9), save=jn.SaveAt(transient=5.0, save_dt=0.1),
                      solver=jn.Kvaerno5(), engine=engine)  # fmt: skip
    V = np.asarray(sol.V)
    t = np.asarray(sol.t)
    np.testing.assert_allclose(t, 5.0 + 0.1 * np.arange(11), rtol=0, atol=1e-12)  # the window after the transient
    assert np.ptp(V[t <= 5.3 - 1e-9]) < 0.01
    assert V[t >= 5.8][0] > V[0] + 10.0
