"""The fast paths (issue 5) compute what the reference paths compute. Not timed.

* the batched ``lax.scan`` exponential Euler (``ExpEuler(fast=True)``, the default) equals the
  Diffrax ``ExpEulerSolver`` path, on one device and split over two host devices;
* the arrowhead (Schur-complement) linear solve equals a dense LU solve on every model's Newton
  matrix, and Kvaerno5 with it (``structured=True``) stays within tolerance of a tight reference;
* ``simulate`` compiles once for a given shape: new parameter values do not recompile;
* with two host devices both the scan path and the Diffrax path split members across them
  (``shard_map``) and give the same results as one device.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optimistix as optx
import pytest

import jaxneuron as jn
from jaxneuron.solvers.structured import ArrowheadSolver, NeuronChord

CELLS = np.array([jn.PRINZ2004_CELLS[k] for k in ("AB/PD 2", "LP 1", "PY 3")])


def _both(model, **kw):
    solver = kw.pop("solver")
    fast = jn.simulate(model, solver=solver, **kw)
    slow = jn.simulate(model, solver=type(solver)(**{**_fields(solver), "fast": False}), **kw)
    return fast, slow


def _fields(solver):
    return {k: getattr(solver, k) for k in ("dt", "max_steps", "dtype", "fast")}


@pytest.mark.parametrize(
    "kw",
    [
        dict(t_end=40.0, save=jn.SaveAt(dt=0.1)),
        dict(t_end=40.31, save=jn.SaveAt(dt=0.07, states="all")),
        dict(t_end=40.0, save=jn.SaveAt(final=True, states="all"),
             stimulus=jn.Step(amplitude=jnp.array([0.0, 1.0, 2.0]), t_on=10.0, t_off=30.0)),
        dict(t_end=30.0, save=jn.SaveAt(dt=0.5, t0=5.0),
             stimulus=jn.Sampled(t=jnp.array([0.0, 10.0, 30.0]), values=jnp.arange(9.0).reshape(3, 3))),
    ],
)  # fmt: skip
def test_fast_expeuler_equals_diffrax_path_float64(kw):
    model = jn.Prinz2003.from_conductances(CELLS)
    fast, slow = _both(model, solver=jn.ExpEuler(), **kw)
    assert fast.V.shape == slow.V.shape and fast.y_final.shape == slow.y_final.shape
    assert (fast.ys is None) == (slow.ys is None)
    np.testing.assert_allclose(fast.t, slow.t)
    np.testing.assert_array_equal(fast.num_steps, slow.num_steps)
    np.testing.assert_array_equal(fast.status, slow.status)
    # equal step times except that Diffrax's first step is dt0 when dt does not divide t_end
    tol = 1e-6 if kw["t_end"] % 0.025 else 1e-8
    np.testing.assert_allclose(fast.V, slow.V, atol=tol * 100, rtol=0)
    np.testing.assert_allclose(fast.y_final, slow.y_final, atol=tol, rtol=tol)
    if fast.ys is not None:
        np.testing.assert_allclose(fast.ys, slow.ys, atol=tol * 100, rtol=0)


def test_fast_expeuler_float32_and_hh():
    hh = jn.HodgkinHuxley()
    fast, slow = _both(hh, solver=jn.ExpEuler(dtype="float32", dt=0.01), t_end=30.0, stimulus=10.0)
    assert fast.V.dtype == jnp.float32
    # float32 rounding differs between the two loops; spikes and trajectories agree closely
    np.testing.assert_allclose(fast.V, slow.V, atol=0.5)
    fast64, slow64 = _both(hh, solver=jn.ExpEuler(dt=0.01), t_end=30.0, stimulus=10.0)
    np.testing.assert_allclose(fast64.V, slow64.V, atol=1e-8)


def test_fast_expeuler_nonfinite_status_and_max_steps_fallback():
    model = jn.Prinz2003.from_conductances(CELLS[:2])
    y0 = jnp.tile(model.default_y0(), (2, 1)).at[1, 0].set(jnp.nan)
    sol = jn.simulate(model, y0=y0, t_end=5.0, solver=jn.ExpEuler())
    np.testing.assert_array_equal(sol.status, [0, 2])
    # a max_steps that cuts the solve goes through Diffrax, which reports it
    sol = jn.simulate(model, t_end=5.0, solver=jn.ExpEuler(max_steps=10))
    np.testing.assert_array_equal(sol.status, [1, 1])


_TWO_DEVICES = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax, numpy as np, jaxneuron as jn
    from jaxneuron.solvers import fixed
    assert len(jax.devices()) == 2
    g = np.array([jn.PRINZ2004_CELLS[k] for k in ("AB/PD 2", "LP 1", "PY 3", "PY 1", "LP 2")])
    model = jn.Prinz2003.from_conductances(g)
    kw = dict(t_end=20.0, save=jn.SaveAt(dt=0.1, states="all"), stimulus=jn.Constant(np.arange(5.0)))
    a = jn.simulate(model, solver=jn.ExpEuler(), **kw)   # 5 members: padded to 6, split 3 + 3
    assert fixed._n_devices(5) == 2
    b = jn.simulate(model, solver=jn.ExpEuler(fast=False), **kw)
    np.testing.assert_allclose(a.ys, b.ys, atol=1e-6)
    np.testing.assert_allclose(a.y_final, b.y_final, atol=1e-8)
    # the Diffrax path is split too (shard_members): identical to solving members one by one
    c = jn.simulate(model, solver=jn.Tsit5(), **kw)
    for i in range(5):
        one = jn.simulate(jn.Prinz2003.from_conductances(g[i]), solver=jn.Tsit5(), t_end=20.0,
                          save=jn.SaveAt(dt=0.1, states="all"), stimulus=float(i))
        np.testing.assert_allclose(c.ys[i], one.ys, atol=1e-9)
        assert int(c.num_steps[i]) == int(one.num_steps)
    print("OK")
    """
)


def test_member_split_over_two_host_devices():
    proc = subprocess.run([sys.executable, "-c", _TWO_DEVICES], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})  # fmt: skip
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]


@pytest.mark.parametrize("model", [jn.Prinz2003(), jn.Liu1998(), jn.HodgkinHuxley()], ids=lambda m: type(m).__name__)
def test_arrowhead_solve_equals_dense(model):
    n = model.n_states
    rng = np.random.default_rng(0)
    y = model.default_y0() * (1 + 0.2 * jnp.asarray(rng.uniform(size=n)))
    J = np.asarray(jax.jacfwd(lambda y: model.vector_field(0.0, y, 0.5))(y))
    arrow = np.zeros((n, n), bool)
    arrow[:2, :] = arrow[:, :2] = True
    arrow[np.arange(n), np.arange(n)] = True
    assert np.all(J[~arrow] == 0), "the model's Jacobian is not an arrowhead on its first two states"
    c = 0.37  # (gamma h) of a Newton matrix I - c J
    op = lx.linearise(lx.JacobianLinearOperator(lambda f, a: f - model.vector_field(0.0, y + c * f, 0.5), jnp.zeros(n)))
    r = jnp.asarray(rng.normal(size=n))
    x_arrow = lx.linear_solve(op, r, ArrowheadSolver()).value
    x_dense = lx.linear_solve(op, r, lx.LU()).value
    np.testing.assert_allclose(x_arrow, x_dense, rtol=1e-12, atol=1e-12 * float(jnp.max(jnp.abs(x_dense))))
    # transposed solve (used when differentiating through the Newton solve)
    xt_arrow = lx.linear_solve(op.T, r, ArrowheadSolver()).value
    xt_dense = lx.linear_solve(op.T, r, lx.LU()).value
    np.testing.assert_allclose(xt_arrow, xt_dense, rtol=1e-10, atol=1e-10 * float(jnp.max(jnp.abs(xt_dense))))


def test_neuron_chord_converges_where_iterations_are_slow():
    # a chord iteration that converges linearly: keeps iterating instead of failing at step 2
    sol = optx.root_find(lambda y, a: y**3 - 2.0, NeuronChord(rtol=1e-10, atol=1e-10), jnp.array([1.2]),
                         throw=False, max_steps=30)  # fmt: skip
    assert sol.result == optx.RESULTS.successful
    np.testing.assert_allclose(sol.value, 2.0 ** (1 / 3), rtol=1e-9)


def test_structured_kvaerno5_matches_reference():
    model = jn.Prinz2003.from_conductances(CELLS[:2])
    kw = dict(t_end=60.0, save=jn.SaveAt(dt=0.05))
    ref = jn.simulate(model, solver=jn.Tsit5(rtol=1e-11, atol=1e-11), **kw)
    fast = jn.simulate(model, solver=jn.Kvaerno5(structured=True), **kw)
    dense = jn.simulate(model, solver=jn.Kvaerno5(structured=False), **kw)
    assert np.all(fast.ok) and np.all(dense.ok)
    err_fast = float(jnp.max(jnp.abs(fast.V - ref.V)))
    err_dense = float(jnp.max(jnp.abs(dense.V - ref.V)))
    assert err_fast < 0.5 and err_fast < 5 * err_dense + 0.05, (err_fast, err_dense)
    assert float(jnp.mean(fast.num_steps)) < float(jnp.mean(dense.num_steps))


def _count_compiles(fn):
    events = []

    def listener(event, duration, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        fn()
    finally:
        from jax._src import monitoring

        monitoring._unregister_event_duration_listener_by_callback(listener)
    return len(events)


@pytest.mark.parametrize("solver", [jn.ExpEuler(), jn.Tsit5()], ids=["ExpEuler-fast", "Tsit5"])
def test_simulate_compiles_once_per_shape(solver):
    kw = dict(t_end=5.0, save=jn.SaveAt(dt=0.5), solver=solver)
    jax.block_until_ready(jn.simulate(jn.Prinz2003.from_conductances(CELLS), **kw))
    other = CELLS * np.array([1.1, 0.9, 1.0, 1.2, 1.0, 0.8, 1.0, 1.0])
    n = _count_compiles(lambda: jax.block_until_ready(jn.simulate(jn.Prinz2003.from_conductances(other), **kw)))
    assert n == 0, f"{n} compilations for new parameter values of the same shape"


def test_difficulty_order_is_a_permutation_and_ranks_spiking_above_silent():
    from jaxneuron.solvers import estimate_difficulty, lockstep_penalty, order_by_difficulty

    g = np.array([jn.PRINZ2004_CELLS["PY 3"], jn.PRINZ2004_CELLS["PY 1"], jn.PRINZ2004_CELLS["AB/PD 2"]])
    score = estimate_difficulty(jn.Prinz2003.from_conductances(g), t_probe=100.0)
    assert score.shape == (3,) and np.all(np.isfinite(score))
    assert score[0] > score[1]  # PY 3 fires tonically, PY 1 is silent
    order = order_by_difficulty(score)
    assert sorted(order.tolist()) == [0, 1, 2]
    assert lockstep_penalty([10, 1, 10, 1], 2) == pytest.approx(40 / 22)
    assert lockstep_penalty([10, 1, 10, 1], 2, order=[1, 3, 0, 2]) == pytest.approx(1.0)
