"""Engines: how :func:`jaxneuron.simulate` runs a batch of members. A strategy object, like the solver.

* :class:`QueueEngine` (the default): the work queue of :mod:`jaxneuron.solvers.queue` for the
  adaptive solvers (members in slots, each at its own step size, a finished member's slot
  refilled at once: no member waits for another), and for :class:`~jaxneuron.ExpEuler` the
  fixed-step scan of :mod:`jaxneuron.solvers.fixed` (with a fixed step there is no lock-step to
  avoid). Saves traces, spikes and the final state; events (threshold and reset) are exact.
  Forward-mode differentiable; not reverse-mode (its loop is a ``while_loop``), except ExpEuler.
* :class:`DiffraxEngine`: ``jax.vmap`` of ``diffrax.diffeqsolve`` (every member of a device's
  batch takes as many steps as its slowest one). Use it for reverse-mode gradients
  (``jax.grad``) through adaptive solves: Diffrax's checkpointed adjoint. Saves traces and the
  final state; no spike recording (use :func:`jaxneuron.spike_times` on its trace).

Both split the members over every local device (:mod:`jaxneuron.solvers.members`) and compile
for the CPU runtime chosen in :mod:`jaxneuron.solvers.runtime`. Each returns per-member outputs
``{"saved": (n, n_times, n_cols), "y_final", "status", "steps", "accepted"}`` plus, with spikes,
``{"times": (n, n_voltages, max_spikes), "count", "v_min", "v_max": (n, n_voltages)}``.
"""

from __future__ import annotations

from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .choices import ExpEuler
from .expeuler import NeuronTerm
from .fixed import fixed_solve, fixed_step_plan
from .members import shard_members, gather_members, n_devices, over_devices, pad_members
from .queue import default_slots, queue_solve
from .runtime import runtime_jit, use_classic_cpu
from .status import Status

__all__ = ["AbstractEngine", "QueueEngine", "DiffraxEngine", "ENGINES"]


class AbstractEngine(eqx.Module):
    """How members are run. :meth:`solve` takes the flat members of
    :func:`~jaxneuron.solvers.members.prepare_members` and returns per-member outputs."""

    name: eqx.AbstractClassVar[str]

    def solve(self, model, stim, y0, in_axes, *, ts, t0, t_end, solver, save) -> dict:
        raise NotImplementedError


def _on_devices(program, model, stim, y0, members, shared, in_axes, static, classic):
    """Pad the members (``y0`` and the per-member ``members`` arrays) to a multiple of the device
    count, deal them to the devices like cards (device ``d`` gets members ``d, d + n_dev, ...``),
    run ``program`` and return the outputs of the real members in their order.

    Dealing, rather than cutting the batch into contiguous halves, balances the devices' work on
    structured batches: a grid sweep's neighbouring members cost alike (a silent corner, a
    bursting one), and a device finishes only when its last member does. Measured on the demo
    sweep's 256 members (2 devices): contiguous halves took 8.1 s, dealt members 6.2 s."""
    n = y0.shape[0]
    n_dev = n_devices(n)
    pad = (-n) % n_dev
    model, stim = pad_members(model, in_axes[0], pad), pad_members(stim, in_axes[1], pad)
    y0 = pad_members(y0, 0, pad)
    members = tuple(pad_members(a, 0, pad) for a in members)
    if n_dev > 1:
        deal = np.arange(n + pad).reshape(-1, n_dev).T.reshape(-1)  # position i holds member deal[i]
        model, stim = gather_members(model, in_axes[0], deal), gather_members(stim, in_axes[1], deal)
        y0, members = y0[deal], tuple(a[deal] for a in members)
        # Commit every per-member array to its devices before the call: an uncommitted input
        # enters the program replicated and shard_map slices it by partition id, which XLA's
        # classic CPU runtime cannot execute (it aborted the process on batched networks).
        model, stim, y0, members = shard_members((model, stim, y0, members), (in_axes[0], in_axes[1], 0, 0), n_dev)
        back = np.argsort(deal)[:n]
        return jax.tree_util.tree_map(lambda x: x[back], program(model, stim, y0, members, shared, in_axes, static,
                                                                 n_dev, classic))  # fmt: skip
    return program(model, stim, y0, members, shared, in_axes, static, n_dev, classic)


class QueueEngine(AbstractEngine):
    """The work queue (default). ``slots``: members integrated side by side per device by the
    adaptive solvers (``None``: :func:`~jaxneuron.solvers.queue.default_slots`, 64 on CPU)."""

    slots: int | None = None
    name: ClassVar[str] = "queue"

    def __check_init__(self):
        if self.slots is not None and not (isinstance(self.slots, int) and self.slots >= 1):
            raise ValueError(f"QueueEngine.slots must be a positive integer or None, got {self.slots!r}")

    def solve(self, model, stim, y0, in_axes, *, ts, t0, t_end, solver, save):
        n = y0.shape[0]
        dtype = y0.dtype
        common = (("t0", float(t0)), ("t_end", float(t_end)), ("t_window", float(t0 + save.transient)),
                  ("states", save.states), ("spikes", bool(save.spikes)), ("threshold", float(save.threshold)),
                  ("max_spikes", int(save.max_spikes)), ("voltages", tuple(model.voltage_states)))  # fmt: skip
        classic = use_classic_cpu("queue", solver, n * (t_end - t0) / 1000.0)
        if isinstance(solver, ExpEuler):
            if solver.table_mode is not None and (model.table_kinetics() is None or model.events()):
                raise ValueError(f"ExpEuler.tabulated needs V-only gate kinetics (Prinz2003, Liu1998); "
                                 f"{type(model).__name__} has none: use tabulated=False")  # fmt: skip
            n_steps, h, k, w = fixed_step_plan(t0, t_end, solver.dt, ts if len(ts) else np.array([t_end]))
            k_np = np.asarray(k, np.int64)
            gaps = np.diff(k_np)
            cfg = common + (("n_steps", n_steps), ("h", float(h)), ("table_mode", solver.table_mode),
                            ("gaps", (int(k_np[0]), int(gaps.max(initial=0)), bool(np.all(gaps == gaps[:1])),
                                      int(n_steps - k_np[-1]))))  # fmt: skip
            shared = (jnp.asarray(k, jnp.int32), jnp.asarray(w, dtype))
            return _on_devices(_fixed_program, model, stim, y0, (), shared, in_axes, cfg, classic)
        jumps = _jump_times(stim, in_axes[1], n, dtype)
        cfg = common + (("solver", type(solver).__name__.lower()), ("rtol", float(solver.rtol)),
                        ("atol", float(solver.atol)), ("dt0", float(solver.dt0(t0, t_end))),
                        ("max_steps", int(solver.n_max_steps(t0, t_end))), ("n_border", int(model.n_border)),
                        ("newton_tol", float(getattr(solver, "newton_tolerance", 0.0))), ("max_newton", 8),
                        ("event_states", tuple(int(ev.state) for ev in model.events())),
                        ("event_held", tuple(tuple(int(i) for i in ev.held) for ev in model.events())))  # fmt: skip
        n_dev = n_devices(n)
        slots = default_slots(-(-n // n_dev)) if self.slots is None else self.slots
        cfg = cfg + (("slots", max(1, min(int(slots), -(-n // n_dev)))),)
        return _on_devices(_queue_program, model, stim, y0, (jumps,), (jnp.asarray(ts, dtype),), in_axes, cfg, classic)


def _jump_times(stim, stim_axes, n, dtype):
    """``(n, n_jumps)`` stimulus discontinuities (ms), ``inf`` where there are none."""
    jumps = None if stim is None else stim.jump_times()
    if jumps is None:
        return jnp.full((n, 1), jnp.inf, dtype)
    if stim_axes is None:
        jumps = jnp.atleast_1d(jumps).astype(dtype)
        return jnp.broadcast_to(jumps, (n,) + jumps.shape)
    return jax.vmap(lambda s: jnp.atleast_1d(s.jump_times()), in_axes=(stim_axes,))(stim).astype(dtype)


@runtime_jit(classic=lambda *args: args[-1])
def _queue_program(model, stim, y0, members, shared, in_axes, cfg, n_dev, classic):
    (jumps,), (ts,) = members, shared

    def local(m, s, y, j):
        return queue_solve(m, s, y, j, ts, in_axes, cfg)

    return over_devices(local, model, stim, (y0, jumps), in_axes, n_dev)


@runtime_jit(classic=lambda *args: args[-1])
def _fixed_program(model, stim, y0, members, shared, in_axes, cfg, n_dev, classic):
    k, w = shared

    def local(m, s, y):
        return fixed_solve(m, s, y, in_axes, cfg, k, w)

    return over_devices(local, model, stim, (y0,), in_axes, n_dev)


class _StaticTimes:
    """Save times passed to the Diffrax engine as a *static* (hashable) argument: constants of the
    compiled program, so that the program runs inside an outer ``jit`` without Diffrax host
    callbacks on traced save times (which would also keep JAX's persistent compilation cache from
    storing it)."""

    def __init__(self, ts: np.ndarray, dtype):
        self.ts = np.asarray(ts, dtype=dtype)
        self._key = (self.ts.dtype.str, self.ts.shape, self.ts.tobytes())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, _StaticTimes) and self._key == other._key


class DiffraxEngine(AbstractEngine):
    """``jax.vmap`` of ``diffrax.diffeqsolve`` over each device's members: reverse-mode
    differentiable (Diffrax's checkpointed adjoint), lock-stepped (every member of a device's
    batch runs as many steps as its slowest one).

    For gradients through ``ExpEuler`` use the ``QueueEngine`` (its fixed-step scan is exactly
    reverse-differentiable): through Diffrax's fixed steps with save times on step ends the
    gradient was measured 0.4 % off converged finite differences (Prinz cell, 20 ms; Diffrax's
    own ``Euler`` shows the same; the values are right)."""

    name: ClassVar[str] = "diffrax"

    def solve(self, model, stim, y0, in_axes, *, ts, t0, t_end, solver, save):
        if save.spikes:
            raise ValueError("DiffraxEngine records no spikes: use the default QueueEngine for SaveAt(spikes=True), "
                             "or jaxneuron.spike_times(sol.t, sol.V) on a saved trace")  # fmt: skip
        if model.events():
            raise NotImplementedError(f"{type(model).__name__} has events (threshold and reset): use the QueueEngine")
        if isinstance(solver, ExpEuler) and solver.table_mode is not None:
            raise ValueError("ExpEuler.tabulated runs on the QueueEngine only")
        static = (_StaticTimes(ts, y0.dtype), float(t0), float(t_end), solver, save.states, tuple(model.voltage_states))
        return _on_devices(_diffrax_program, model, stim, y0, (), (), in_axes, static, False)


def _diffrax_status(result, y_final, saved):
    code = jnp.where(result == diffrax.RESULTS.successful, Status.OK,
                     jnp.where(result == diffrax.RESULTS.max_steps_reached, Status.MAX_STEPS, Status.SOLVER_FAILURE))  # fmt: skip
    finite = jnp.all(jnp.isfinite(y_final)) & jnp.all(jnp.isfinite(saved))
    return jnp.where((code == Status.OK) & ~finite, Status.NON_FINITE, code).astype(jnp.int32)


@runtime_jit(classic=lambda *args: args[-1])
def _diffrax_program(model, stim, y0, members, shared, in_axes, static, n_dev, classic):
    times, t0, t_end, solver, states, voltages = static
    ts = jnp.asarray(times.ts)
    model_axes, stim_axes = in_axes
    dsolver = solver.diffrax_solver()
    rows = np.asarray(voltages)

    def one(model, stim, y0):
        term = NeuronTerm.of(model)
        jump_ts = None if stim is None else stim.jump_times()
        pick = (lambda t, y, a: y) if states == "all" else (lambda t, y, a: y[rows])
        if states is None:
            saveat = diffrax.SaveAt(t1=True)
        else:
            saveat = diffrax.SaveAt(subs=[diffrax.SubSaveAt(ts=ts, fn=pick), diffrax.SubSaveAt(t1=True)])
        sol = diffrax.diffeqsolve(
            term, dsolver, t0, t_end, solver.dt0(t0, t_end), y0, args=stim, saveat=saveat,
            stepsize_controller=solver.controller(jump_ts), max_steps=solver.n_max_steps(t0, t_end), throw=False,
        )  # fmt: skip
        if states is None:
            saved, y_final = jnp.zeros((0, 1), y0.dtype), sol.ys[-1]
        else:
            saved, y_last = sol.ys
            y_final = y_last[-1]
        out = dict(y_final=y_final, status=_diffrax_status(sol.result, y_final, saved),
                   steps=jnp.asarray(sol.stats["num_steps"], jnp.int32),
                   accepted=jnp.asarray(sol.stats["num_accepted_steps"], jnp.int32))  # fmt: skip
        if states is not None:
            out["saved"] = saved
        return out

    def local(m, s, y):
        return jax.vmap(one, in_axes=(model_axes, stim_axes, 0))(m, s, y)

    return over_devices(local, model, stim, (y0,), in_axes, n_dev)


ENGINES = {"queue": QueueEngine, "diffrax": DiffraxEngine}
"""Engines by name, for the CLI and sweep files."""
