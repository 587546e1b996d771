"""Batched simulation equals a loop of single solves; gradients are finite and match finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuron as jn


def test_vmap_equals_loop_with_per_member_params_stimuli_and_y0():
    g_Na = np.array([100.0, 120.0, 140.0])
    amps = np.array([5.0, 10.0, 0.0])
    base = jn.HodgkinHuxley()
    y0 = np.stack([np.asarray(base.steady_state(V=v)) for v in (-65.0, -60.0, -70.0)])
    kw = dict(t_end=60.0, save=jn.SaveAt(save_dt=0.5), solver=jn.Kvaerno5(rtol=1e-7, atol=1e-7))
    batch = jn.simulate(jn.HodgkinHuxley(g_Na=g_Na), y0=y0, stimulus=jn.Step(amps, 5.0, 50.0), **kw)
    assert batch.V.shape == (3, 121) and batch.status.shape == (3,)
    for i in range(3):
        one = jn.simulate(jn.HodgkinHuxley(g_Na=g_Na[i]), y0=y0[i], stimulus=jn.Step(amps[i], 5.0, 50.0), **kw)
        np.testing.assert_allclose(np.asarray(batch.V[i]), np.asarray(one.V), rtol=1e-9, atol=1e-9)  # rounding only
        assert int(batch.num_steps[i]) == int(one.num_steps)  # each member keeps its own step sizes


def test_two_dimensional_batch_shape():
    model = jn.Prinz2003(g_CaS=np.array([[2.0], [4.0]]), g_A=np.array([10.0, 30.0, 50.0]))
    sol = jn.simulate(model, t_end=50.0, save=jn.SaveAt(save_dt=1.0), solver=jn.ExpEuler(dt=0.025))
    assert sol.V.shape == (2, 3, 51) and sol.y_final.shape == (2, 3, 13)
    one = jn.simulate(jn.Prinz2003(g_CaS=4.0, g_A=30.0), t_end=50.0, save=jn.SaveAt(save_dt=1.0), solver=jn.ExpEuler(dt=0.025))
    np.testing.assert_allclose(np.asarray(sol.V[1, 1]), np.asarray(one.V), atol=1e-12)


def test_all_states_saved():
    sol = jn.simulate(jn.Prinz2003(), t_end=10.0, save=jn.SaveAt(save_dt=1.0, states="all"), solver=jn.Tsit5())
    assert sol.ys.shape == (11, 13)
    np.testing.assert_array_equal(np.asarray(sol.ys[..., 0]), np.asarray(sol.V))
    np.testing.assert_allclose(np.asarray(sol.ys[-1]), np.asarray(sol.y_final), atol=1e-12)


# reverse mode: the Diffrax engine for adaptive solvers (the work queue's while_loop is not
# reverse-differentiable), ExpEuler on either engine (static-length scans on the queue)
@pytest.mark.parametrize(
    "solver, engine",
    [(jn.Kvaerno5(rtol=1e-8, atol=1e-8), jn.DiffraxEngine()), (jn.ExpEuler(dt=0.01), jn.QueueEngine()),
     (jn.ExpEuler(dt=0.01), jn.DiffraxEngine())],
    ids=["kvaerno5-diffrax", "expeuler-queue", "expeuler-diffrax"],
)  # fmt: skip
def test_gradient_wrt_conductance_matches_finite_difference(solver, engine):
    def mean_v(g_K):
        sol = jn.simulate(jn.HodgkinHuxley(g_K=g_K), t_end=20.0, stimulus=jn.Constant(3.0), save=jn.SaveAt(save_dt=0.5),
                          solver=solver, engine=engine)  # fmt: skip
        return jnp.mean(sol.V)

    g = 36.0
    grad = float(jax.grad(mean_v)(g))
    h = 1e-3
    fd = (float(mean_v(g + h)) - float(mean_v(g - h))) / (2 * h)
    assert np.isfinite(grad) and grad != 0.0
    assert grad == pytest.approx(fd, rel=1e-3)


def test_forward_mode_through_the_work_queue_matches_finite_difference():
    # the queue's adaptive solve is forward-mode differentiable (jvp through its while_loop)
    def mean_v(g_K):
        sol = jn.simulate(jn.HodgkinHuxley(g_K=g_K), t_end=20.0, stimulus=jn.Constant(3.0), save=jn.SaveAt(save_dt=0.5),
                          solver=jn.Kvaerno5(rtol=1e-8, atol=1e-8))  # fmt: skip
        return jnp.mean(sol.V)

    g = 36.0
    _, tangent = jax.jvp(mean_v, (g,), (1.0,))
    h = 1e-3
    fd = (float(mean_v(g + h)) - float(mean_v(g - h))) / (2 * h)
    assert np.isfinite(float(tangent)) and float(tangent) != 0.0
    assert float(tangent) == pytest.approx(fd, rel=1e-3)
