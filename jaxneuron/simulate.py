"""``simulate``: the one pure entry point that integrates a (batched) neuron model.

A batched model (parameter fields with a leading batch shape), batched stimulus amplitudes and
per-member initial states are broadcast together, folded into one member axis and solved with
``jax.vmap`` around ``diffrax.diffeqsolve``, so every member keeps its own adaptive step size.
No member can abort the batch: the solve runs with ``throw=False`` and each member gets a
status code (``STATUS``).
"""

from __future__ import annotations

import math

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._batching import batch_shape_of, flatten_members
from ._config import check_float64
from .models.base import AbstractNeuron, evaluate_stimulus
from .solvers import AbstractSolverChoice, ExpEuler, Kvaerno5, NeuronTerm
from .solvers.fixed import solve_fixed_members
from .solvers.runtime import runtime_jit, use_classic_cpu
from .solvers.sharding import shard_members
from .solvers.tabulated import supports_tables
from .stimulus import as_stimulus

__all__ = ["simulate", "SaveAt", "Solution", "STATUS"]

STATUS = {0: "ok", 1: "max_steps reached", 2: "non-finite state", 3: "solver failure"}
"""Per-member status codes of :class:`Solution`."""


class SaveAt(eqx.Module):
    """What to save. ``SaveAt(t0=..., dt=..., states="V" | "all")`` samples every ``dt`` ms from
    ``t0`` ms (default: the start of the simulation) to the end; ``SaveAt(final=True)`` keeps
    only the final state (``Solution.V`` then holds the final V, one sample)."""

    t0: float | None = None
    dt: float = 0.1
    states: str = "V"
    final: bool = False

    def __check_init__(self):
        if self.states not in ("V", "all"):
            raise ValueError(f"SaveAt.states must be 'V' or 'all', got {self.states!r}")
        if not self.final and not (math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"SaveAt.dt must be a positive number of ms, got {self.dt!r}")

    def times(self, t0: float, t_end: float) -> np.ndarray:
        if self.final:
            return np.array([t_end])
        start = t0 if self.t0 is None else float(self.t0)
        if not (t0 <= start <= t_end):
            raise ValueError(f"SaveAt.t0 must lie in the simulated interval [{t0}, {t_end}] ms, got {start}")
        n = int(math.floor((t_end - start) / self.dt + 1e-9)) + 1
        return start + self.dt * np.arange(n)


class _StaticTimes:
    """Save times passed to the jitted solvers as a *static* (hashable) argument.

    Save times are a pure function of the protocol, so they belong in the compiled program as
    constants: this keeps ``simulate`` usable inside an outer ``jit`` (e.g. a sweep's chunk
    function) without diffrax host callbacks on traced save times, which would also stop JAX's
    persistent compilation cache from storing the program. ``np.asarray``/``jnp.asarray`` give
    the array.
    """

    def __init__(self, ts: np.ndarray, dtype):
        self._ts = np.asarray(ts, dtype=dtype)
        self._key = (self._ts.dtype.str, self._ts.shape, self._ts.tobytes())
        self._hash = hash(self._key)

    def __array__(self, dtype=None, copy=None):
        return self._ts if dtype is None else self._ts.astype(dtype)

    def __len__(self):
        return self._ts.shape[0]

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return isinstance(other, _StaticTimes) and self._key == other._key


class Solution(eqx.Module):
    """Result of :func:`simulate`.

    ``t``: saved times (ms), shape ``(n_times,)``; ``V``: membrane potential (mV), shape
    ``(*batch, n_times)``; ``ys``: all states ``(*batch, n_times, n_states)`` when saved with
    ``states="all"``, else ``None``; ``y_final``: ``(*batch, n_states)``; ``status``: int per
    member (``STATUS``: 0 ok, 1 max_steps reached, 2 non-finite, 3 other solver failure);
    ``num_steps``: steps taken per member.
    """

    t: jax.Array
    V: jax.Array
    ys: jax.Array | None
    y_final: jax.Array
    status: jax.Array
    num_steps: jax.Array
    state_names: tuple[str, ...] = eqx.field(static=True)

    @property
    def ok(self):
        return self.status == 0


def _check_model(model):
    if not isinstance(model, AbstractNeuron):
        raise TypeError(f"simulate expects a jaxneuron model (e.g. jaxneuron.Prinz2003()), got {type(model).__name__}")


def _status(result, y_final, saved):
    code = jnp.where(result == diffrax.RESULTS.successful, 0, jnp.where(result == diffrax.RESULTS.max_steps_reached, 1, 3))
    finite = jnp.all(jnp.isfinite(y_final)) & jnp.all(jnp.isfinite(saved))
    return jnp.where((code == 0) & ~finite, 2, code)


def _members_classic(model, stim, y0, ts, in_axes, t0, t_end, solver, states, final):
    """Whether this solve is compiled for XLA's classic CPU runtime (:mod:`jaxneuron.solvers.runtime`)."""
    return use_classic_cpu(solver, "vmap", y0.shape[0] * (t_end - t0) / 1000.0)


@runtime_jit(classic=_members_classic)
def _solve_members(model, stim, y0, ts, in_axes, t0, t_end, solver, states, final):
    ts = jnp.asarray(np.asarray(ts))  # a constant of the compiled program (see _StaticTimes)
    dsolver = solver.diffrax_solver()
    max_steps = solver.n_max_steps(t0, t_end)
    dt0 = solver.dt0(t0, t_end)

    def one(model, stim, y0):
        term = NeuronTerm(model.vector_field, linear_form_fn=lambda t, y, a: model.linear_form(y, evaluate_stimulus(a, t)))
        jump_ts = None if stim is None else stim.jump_times()
        fn = (lambda t, y, a: y) if states == "all" else (lambda t, y, a: y[0])
        if final:
            saveat = diffrax.SaveAt(t1=True)
        else:
            saveat = diffrax.SaveAt(subs=[diffrax.SubSaveAt(ts=ts, fn=fn), diffrax.SubSaveAt(t1=True)])
        sol = diffrax.diffeqsolve(
            term, dsolver, t0, t_end, dt0, y0, args=stim, saveat=saveat,
            stepsize_controller=solver.controller(jump_ts), max_steps=max_steps, throw=False,
        )  # fmt: skip
        if final:
            y_final = sol.ys[-1]
            saved = y_final if states == "all" else y_final[0]
            saved = saved[None]
        else:
            saved, y_last = sol.ys
            y_final = y_last[-1]
        return saved, y_final, _status(sol.result, y_final, saved), sol.stats["num_steps"]

    model_axes, stim_axes = in_axes
    return jax.vmap(one, in_axes=(model_axes, stim_axes, 0))(model, stim, y0)


def prepare_members(model, y0, stimulus, dtype, *, model_member_axis: bool = False):
    """Broadcast ``model``, ``stimulus`` and ``y0`` (``None``: the model's default) to one batch,
    fold it into a leading member axis and cast to ``dtype``. Returns ``(batch, model_flat,
    stim_flat, y0_flat (n, n_states), (model_axes, stim_axes))``. ``model_member_axis``: give
    the model a member axis even for a single member (engines that gather members by index)."""
    stim = as_stimulus(stimulus)
    y0 = model.default_y0() if y0 is None else jnp.asarray(y0, dtype=float)
    if y0.shape[-1:] != (model.n_states,):
        raise ValueError(f"y0 must have the {model.n_states} states {model.state_names} on its last axis, got shape {y0.shape}")
    try:
        batch = tuple(np.broadcast_shapes(model.batch_shape, batch_shape_of(stim), y0.shape[:-1]))
    except ValueError:
        raise ValueError(
            f"batch shapes do not broadcast: model {model.batch_shape}, stimulus {batch_shape_of(stim)}, y0 {y0.shape[:-1]}"
        ) from None
    n = int(math.prod(batch))
    model_flat, model_axes = flatten_members(model, batch if (batch or not model_member_axis) else (1,))
    stim_flat, stim_axes = flatten_members(stim, batch)
    y0_flat = jnp.broadcast_to(y0, batch + (model.n_states,)).reshape(n, model.n_states)
    cast = lambda tree: jax.tree_util.tree_map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, tree)  # noqa: E731
    return batch, cast(model_flat), cast(stim_flat), y0_flat.astype(dtype), (model_axes, stim_axes)


def simulate(model, *, y0=None, t_end, stimulus=None, save: SaveAt | None = None,
             solver: AbstractSolverChoice | None = None, t0: float = 0.0) -> Solution:  # fmt: skip
    """Integrate ``model`` from ``t0`` to ``t_end`` (ms).

    Args:
        model: a jaxneuron model; any parameter field may carry a batch shape.
        y0: initial state ``(..., n_states)``: one state for every member or one per member.
            ``None``: the model's documented default (``model.default_y0()``).
        t_end: end time (ms), > ``t0``.
        stimulus: ``None``, a constant (uA/cm^2, inward positive, may be a per-member array), a
            :mod:`jaxneuron.stimulus` object (amplitudes may be batched) or a callable ``t -> I``.
        save: a :class:`SaveAt` (default: V every 0.1 ms from ``t0``).
        solver: a solver choice (default :class:`jaxneuron.Kvaerno5` with rtol = atol = 1e-6).

    Returns a :class:`Solution`; never raises because one member failed (see ``status``).
    """
    _check_model(model)
    save = SaveAt() if save is None else save
    solver = Kvaerno5() if solver is None else solver
    if not isinstance(solver, AbstractSolverChoice):
        raise TypeError(f"solver must be one of jaxneuron.Kvaerno5/Kvaerno3/Tsit5/ExpEuler, got {solver!r}")
    if not isinstance(save, SaveAt):
        raise TypeError(f"save must be a jaxneuron.SaveAt, got {save!r}")
    t0, t_end = float(t0), float(t_end)
    if not (math.isfinite(t0) and math.isfinite(t_end) and t_end > t0):
        raise ValueError(f"t_end must be a finite time (ms) greater than t0 = {t0}; got t_end = {t_end}")
    dtype = check_float64(solver)
    ts = save.times(t0, t_end)

    batch, model_flat, stim_flat, y0_flat, in_axes = prepare_members(model, y0, stimulus, dtype)
    args = (model_flat, stim_flat, y0_flat, _StaticTimes(ts, dtype), in_axes, t0, t_end, solver, save.states,
            save.final)  # fmt: skip
    if isinstance(solver, ExpEuler) and solver.tabulated:
        if not supports_tables(model):
            raise ValueError(f"ExpEuler.tabulated needs V-only gate kinetics (Prinz2003, Liu1998); "
                             f"{type(model).__name__} has none: use tabulated=False")  # fmt: skip
        if not solver.uses_fast_path(t0, t_end):
            raise ValueError("ExpEuler.tabulated runs on the fast path, which max_steps would cut here: "
                             "raise max_steps or use tabulated=False")  # fmt: skip
    if isinstance(solver, ExpEuler) and solver.uses_fast_path(t0, t_end):
        saved, y_final, status, num_steps = solve_fixed_members(*args)
    else:
        saved, y_final, status, num_steps = shard_members(_solve_members, *args, classic_cpu=_members_classic(*args))
    if save.states == "all":
        ys = saved.reshape(batch + saved.shape[1:])
        V = ys[..., 0]
    else:
        ys = None
        V = saved.reshape(batch + saved.shape[1:])
    return Solution(
        t=jnp.asarray(ts, dtype=dtype), V=V, ys=ys, y_final=y_final.reshape(batch + (model.n_states,)),
        status=status.reshape(batch), num_steps=num_steps.reshape(batch), state_names=model.state_names,
    )  # fmt: skip
