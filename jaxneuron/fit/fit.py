"""``fit``: gradient-based parameter fitting from many starts at once.

The K starts are K members of ONE batched model, simulated by :func:`jaxneuron.simulate` as one
batch; the loss is applied to each member (``jax.vmap``); gradients are per member (members are
independent), the optimiser (optax) is ``vmap``-ped over the starts (so its state, and any
norm it takes, is per start), and the whole run -- every optimiser step of every start -- is one
compiled ``jax.lax.scan``. Parameters move in an unconstrained space and are mapped into their
bounds by :mod:`jaxneuron.fit.transforms`, so no step can leave the bounds.

Gradient paths (``gradient=``):

* ``"forward"`` (default): one forward-mode tangent per fitted parameter, ``vmap``-ped
  (``jax.jvp``; the approach of the seed tool's forward-mode BFGS, here for all starts at
  once). Memory does not grow with the simulated time, and it works through every engine and
  solver, including the work queue's adaptive solves (forward-mode differentiable). Cost grows
  with the number of fitted parameters: it is the right path for the few conductances of a
  cell fit.
* ``"reverse"``: ``jax.grad``. Exact through ``ExpEuler`` on the ``QueueEngine`` (a static
  scan) and through adaptive solves on the ``DiffraxEngine`` (Diffrax's checkpointed adjoint,
  memory bounded). On the fixed-step scan its memory grows with the number of steps x members
  (the residuals of every step are kept; see the README, Fitting, for the measured size), so it
  suits short runs or many parameters. Do not take gradients through ``ExpEuler`` on the
  ``DiffraxEngine``: they were measured 0.4 % off (see :class:`jaxneuron.DiffraxEngine`).

The default optimiser for :mod:`jaxneuron.losses` losses is Levenberg--Marquardt on their
residuals (:mod:`jaxneuron.fit.optimize`): the forward-mode tangents give the residual
Jacobian at the cost of the gradient, and trace fits that crawl along the valleys of the
conductance space with Adam converge to rounding in tens of iterations.

The default solver is ``ExpEuler(dt=0.025)`` on the work queue: a fixed step makes the loss a
smooth function of the parameters (an adaptive solver's step choices add small jumps), and it
is the fast scheme. Its bias (burst periods off by up to ~2.5 % at this step, README
Performance) is the same for the target when the target was simulated with it; for recorded
data pass an accurate ``solver`` (e.g. ``Tsit5()`` with ``gradient="forward"``).
"""

from __future__ import annotations

import dataclasses
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._batching import batch_shape_of
from ..models.interface import AbstractModel
from ..simulate import SaveAt, Solution, simulate
from ..solvers import AbstractEngine, ExpEuler, QueueEngine
from .losses import FeatureLoss, RhythmLoss, TraceLoss, features, trace
from .optimize import lm_loop, optax_loop
from .transforms import check_starts, parse_bounds, random_starts, to_params, to_unconstrained

__all__ = ["fit", "FitResult", "FIT_STATUS", "fitted_leaves", "with_params", "loss_and_gradient", "gradient_function"]

FIT_STATUS = {0: "ok", 1: "non_finite_loss", 2: "simulation_failed"}
"""Status of each start: 0 ok; 1 the loss or its gradient was not finite (e.g. a feature loss
on a cell that stopped bursting); 2 the simulation failed (its :class:`~jaxneuron.Status`). A
flagged start keeps the parameters of its last good step and is not updated again."""


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What :func:`fit` returns; K = number of starts, names = the fitted parameters.

    * ``params``: ``{name: (K,)}`` final parameters (model units); ``starts``: the same at step 0.
    * ``loss``: ``(K,)`` loss at the final parameters; ``history``: ``(steps, K)`` loss at each
      step's parameters (before that step's update; NaN where the loss was not finite).
    * ``status``: ``(K,)`` codes of :data:`FIT_STATUS`; ``status_names``.
    * ``best``: ``{name: float}`` of the start with the lowest finite final loss among those with
      status 0 (``best_index``; -1 and NaN when there is none).
    * ``model``: the model with the fitted parameters, one member per start (simulate it).
    * ``gradient``, ``steps``, ``wall_time`` (s, compile included), ``bounds``.
    """

    params: dict
    loss: np.ndarray
    history: np.ndarray
    status: np.ndarray
    starts: dict
    best: dict
    best_index: int
    model: AbstractModel
    bounds: dict
    gradient: str
    steps: int
    wall_time: float

    @property
    def status_names(self) -> list[str]:
        return [FIT_STATUS[int(s)] for s in self.status]


def fitted_leaves(model) -> dict:
    """``{name: getter}`` of every scalar parameter of ``model`` that :func:`fit` can fit: a
    cell's fields (``"g_CaS"``), and in a network ``"cells.1.g_CaS"``, ``"synapses.0.g"``..."""
    out = {}

    def walk(obj, prefix, get):
        for f in dataclasses.fields(obj):
            if f.metadata.get("static", False):
                continue
            value = getattr(obj, f.name, None)
            sub = lambda root, name=f.name, get=get: getattr(get(root), name)  # noqa: E731
            if "batch" in f.metadata:
                if f.metadata["batch"] == 0 and eqx.is_inexact_array(value) and jnp.ndim(value) == 0:
                    out[prefix + f.name] = sub
            elif dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.", sub)
            elif isinstance(value, (tuple, list)):
                for i, item in enumerate(value):
                    if dataclasses.is_dataclass(item):
                        walk(item, f"{prefix}{f.name}.{i}.", lambda root, sub=sub, i=i: sub(root)[i])

    walk(model, "", lambda root: root)
    return out


def with_params(model, values: dict):
    """``model`` with the leaves named in ``values`` replaced (arrays of shape ``(K,)`` make a batch)."""
    leaves = fitted_leaves(model)
    getters = [leaves[n] for n in values]
    return eqx.tree_at(lambda m: [g(m) for g in getters], model, [jnp.asarray(v, jnp.float64) for v in values.values()])


def _member_outputs(model, sim, fn, theta: dict):
    """``(fn(member solution) for each member, simulation status)`` of ``model`` with ``theta``
    (``{name: (K,)}``): one batched :func:`simulate`, ``fn`` ``vmap``-ped over the members."""
    sol = simulate(with_params(model, theta), **sim)
    sol_b = eqx.tree_at(lambda s: s.t, sol, jnp.broadcast_to(sol.t, sol.status.shape + sol.t.shape))
    return jax.vmap(fn)(sol_b), sol.status


def _forward(f, x):
    """``(value, status, d value / d x)`` of ``f: x (K, P) -> (value (K, ...), status)`` by one
    forward-mode tangent per column of ``x`` (``vmap``-ped); the derivative has P last."""

    def along(e):
        (v, st), (dv, _) = jax.jvp(f, (x,), (jnp.broadcast_to(e, x.shape),))
        return v, st, dv

    v, st, dv = jax.vmap(along)(jnp.eye(x.shape[-1], dtype=x.dtype))
    return v[0], st[0], jnp.moveaxis(dv, 0, -1)


def _reverse(f, x):
    """``(L, status, dL/dx (K, P))`` of ``f: x (K, P) -> (L (K,), status)`` by one reverse pass:
    the members are independent, so the gradient of the sum of the finite losses is per member."""

    def total(x):
        L, st = f(x)
        return jnp.sum(jnp.where(jnp.isfinite(L), L, 0.0)), (L, st)

    (_, (L, st)), G = jax.value_and_grad(total, has_aux=True)(x)
    return L, st, G


def gradient_function(model, loss, names, *, gradient: str = "forward", t_end, t0=0.0, stimulus=None, y0=None,
                      save: SaveAt | None = None, solver=None, engine=None):  # fmt: skip
    """``values -> (loss (K,), {name: d loss / d name (K,)})`` for ``{name: (K,)}`` parameter values
    of ``model``: the simulation, loss and gradient path of :func:`fit` (its defaults), without the
    reparameterisation, compiled once (for checking gradients and for other optimisers, e.g. scipy)."""
    names = list(names)
    leaves = fitted_leaves(model)
    unknown = [n for n in names if n not in leaves]
    if unknown:
        raise ValueError(f"{unknown} are not fittable leaves of {type(model).__name__}; valid: {sorted(leaves)}")
    if gradient not in ("forward", "reverse"):
        raise ValueError(f"gradient must be 'forward' or 'reverse', got {gradient!r}")
    sim = dict(t_end=float(t_end), t0=float(t0), stimulus=stimulus, y0=y0, save=SaveAt() if save is None else save,
               solver=ExpEuler(dt=0.025) if solver is None else solver, engine=QueueEngine() if engine is None else engine)  # fmt: skip

    def f(x):
        return _member_outputs(model, sim, loss, {n: x[:, i] for i, n in enumerate(names)})

    # under jit: the engines commit per-member inputs to devices, which a vmapped tangent outside jit cannot take
    compiled = jax.jit(lambda x: (_forward if gradient == "forward" else _reverse)(f, x))

    def call(values: dict):
        x = jnp.stack([jnp.atleast_1d(jnp.asarray(values[n], jnp.float64)) for n in names], axis=-1)
        L, _, G = compiled(x)
        return np.asarray(L), {n: np.asarray(G[:, i]) for i, n in enumerate(names)}

    return call


def loss_and_gradient(model, loss, values: dict, *, gradient: str = "forward", **protocol):
    """``(loss (K,), {name: d loss / d name (K,)})`` at ``values`` (``{name: (K,)}``): one call of
    :func:`gradient_function` (``protocol``: ``t_end``, ``t0``, ``stimulus``, ``y0``, ``save``,
    ``solver``, ``engine``)."""
    return gradient_function(model, loss, list(values), gradient=gradient, **protocol)(values)


def _resolve_loss(target, loss):
    if loss is not None and target is not None:
        raise ValueError("give the target either as `target` (a Solution, a (t, V) pair or a dict of features) or inside "
                         "`loss` (e.g. jaxneuron.losses.trace(t, V)), not both")  # fmt: skip
    if loss is not None:
        if not callable(loss):
            raise TypeError(f"loss must be callable, loss(sol) -> scalar; got {type(loss).__name__}")
        return loss
    if target is None:
        raise ValueError("nothing to fit to: give a target (Solution, (t, V) or {feature: value}) or a loss")
    if isinstance(target, Solution):
        if target.V is None:
            raise ValueError("the target Solution has no saved trace (SaveAt(states=None)); save V")
        if target.V.ndim != 1:
            raise ValueError(f"the target Solution must be ONE member's trace, got V of shape {target.V.shape}")
        return trace(target.t, target.V)
    if isinstance(target, dict):
        return features(target)
    if isinstance(target, tuple) and len(target) == 2:
        return trace(*target)
    raise TypeError(f"target must be a Solution, a (t, V) pair or a dict of features, got {type(target).__name__}")


def _protocol(target, t0, t_end, save):
    """``(t0, t_end, save)``: from the arguments, else from a target Solution."""
    if isinstance(target, Solution):
        dt = float(target.t[1] - target.t[0]) if target.t.shape[0] > 1 else 0.1
        t0 = target.t0 if t0 is None else t0
        t_end = target.t_end if t_end is None else t_end
        save = SaveAt(transient=target.transient, save_dt=round(dt, 12)) if save is None else save
    if t_end is None:
        raise ValueError("fit needs the protocol's t_end (ms) (or a target Solution to take it from)")
    return (0.0 if t0 is None else float(t0)), float(t_end), (SaveAt() if save is None else save)


def _as_starts(starts, key, bounds):
    names = list(bounds)
    if isinstance(starts, (int, np.integer)) and not isinstance(starts, bool):
        if starts < 1:
            raise ValueError(f"starts must be >= 1 (or start values), got {starts}")
        return random_starts(jax.random.key(0) if key is None else key, int(starts), bounds)
    if isinstance(starts, dict):
        return check_starts(starts, bounds)
    arr = np.asarray(starts, dtype=np.float64)
    if arr.ndim == 1 and len(names) == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ValueError(f"starts must be an int K, a dict {{name: (K,)}} or an array (K, {len(names)}) in the order "
                         f"{names}; got shape {arr.shape}")  # fmt: skip
    return check_starts({n: arr[:, i] for i, n in enumerate(names)}, bounds)


def fit(model, target=None, *, params, bounds, loss=None, t_end=None, t0=None, stimulus=None, y0=None,
        save: SaveAt | None = None, solver=None, engine: AbstractEngine | None = None, optimizer=None, starts=8,
        steps: int = 100, key=None, gradient: str = "forward") -> FitResult:  # fmt: skip
    """Fit the parameters ``params`` of ``model`` to ``target`` from many starts at once.

    Args:
        model: an unbatched jaxneuron model; every parameter not fitted keeps its value.
        target: what to match (or ``None`` when ``loss`` holds it): a one-member
            :class:`~jaxneuron.Solution` (trace MSE; its ``t0``, ``t_end`` and save grid
            become the protocol's defaults), a ``(t, V)`` pair (trace MSE), or
            ``{feature: value}`` (:func:`jaxneuron.losses.features` with unit weights).
        params: names of the fitted leaves (``"g_CaS"``; see :func:`fitted_leaves`).
        bounds: ``{name: (low, high)}`` or ``(low, high, "log")`` (model units); the
            reparameterisation of :mod:`jaxneuron.fit.transforms` keeps every value inside.
        loss: ``loss(sol) -> scalar`` on one member's Solution, e.g.
            :func:`jaxneuron.losses.trace`, :func:`jaxneuron.losses.features`, or your own.
        t_end, t0, stimulus, y0, save, solver, engine: the protocol, as for
            :func:`jaxneuron.simulate` (default solver ``ExpEuler(dt=0.025)``, engine
            ``QueueEngine()``). A trace target's ``t`` must be the protocol's save times.
        optimizer: ``"lm"`` (Levenberg--Marquardt, :func:`jaxneuron.fit.optimize.lm_loop`;
            the default for the sum-of-squares losses of :mod:`jaxneuron.losses` with
            ``gradient="forward"``) or an optax ``GradientTransformation`` on the unconstrained
            parameters (the default otherwise: ``optax.adam(0.05)``), ``vmap``-ped over starts.
        starts: ``K`` (random within the bounds from ``key``: uniform, log-uniform on log
            bounds) or start values: ``{name: (K,)}`` (e.g. from
            :func:`jaxneuron.fit.nearest`) or an array ``(K, n_params)``.
        steps: optimiser steps (each one batched simulation with its gradient).
        key: ``jax.random`` key for random starts (default ``key(0)``).
        gradient: ``"forward"`` (default) or ``"reverse"``; see the module docstring.

    Returns a :class:`FitResult`. A start whose loss turns non-finite or whose simulation fails
    is flagged (``status``) and frozen; the others go on.
    """
    t_wall = time.perf_counter()
    if not isinstance(model, AbstractModel):
        raise TypeError(f"fit expects a jaxneuron model, got {type(model).__name__}")
    if batch_shape_of(model) != ():
        raise ValueError(f"fit expects an unbatched model (one value per parameter); got batch shape {batch_shape_of(model)}")
    names = (params,) if isinstance(params, str) else tuple(params)
    leaves = fitted_leaves(model)
    unknown = [n for n in names if n not in leaves]
    if not names or unknown:
        raise ValueError(f"params: {unknown or 'nothing'} {'is' if len(unknown) == 1 else 'are'} not fittable leaves of "
                         f"{type(model).__name__}; valid: {sorted(leaves)}")  # fmt: skip
    if len(set(names)) != len(names):
        raise ValueError(f"params names a parameter twice: {list(names)}")
    if gradient not in ("forward", "reverse"):
        raise ValueError(f"gradient must be 'forward' or 'reverse', got {gradient!r}")
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    bnds = parse_bounds(bounds, names)
    loss_fn = _resolve_loss(target, loss)
    t0, t_end, save = _protocol(target, t0, t_end, save)
    if save.states is None:
        raise ValueError("fit needs a saved trace for the loss: SaveAt(states='V' or 'all')")
    ts = save.times(t0, t_end)
    if isinstance(loss_fn, (TraceLoss, FeatureLoss, RhythmLoss)):
        loss_fn.check_times(ts)
    solver = ExpEuler(dt=0.025) if solver is None else solver
    engine = QueueEngine() if engine is None else engine
    has_residuals = isinstance(loss_fn, (TraceLoss, FeatureLoss, RhythmLoss))
    if optimizer is None:
        optimizer = "lm" if has_residuals and gradient == "forward" else optax.adam(0.05)
    if optimizer == "lm" and not (has_residuals and gradient == "forward"):
        raise ValueError("optimizer='lm' (Levenberg-Marquardt) needs a jaxneuron.losses trace or features loss (a sum of "
                         "squares) and gradient='forward'; use an optax optimizer otherwise")  # fmt: skip
    if optimizer != "lm" and not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be 'lm' or an optax GradientTransformation, got {optimizer!r}")
    start_vals = _as_starts(starts, key, bnds)
    u0 = to_unconstrained(start_vals, bnds)
    sim = dict(t_end=t_end, t0=t0, stimulus=stimulus, y0=y0, save=save, solver=solver, engine=engine)

    def member_outputs(u, fn):
        return _member_outputs(model, sim, fn, to_params(u, bnds))

    def member_losses(u):
        return member_outputs(u, loss_fn)

    shape = jax.eval_shape(member_losses, u0)[0].shape
    if shape != u0.shape[:1]:
        raise ValueError(f"the loss must return a scalar for one member's Solution; it returned shape {shape[1:]}")

    def forward(fn):
        return lambda u: _forward(lambda u: member_outputs(u, fn), u)

    if optimizer == "lm":
        residuals = loss_fn.residuals

        @jax.jit
        def run(u0):
            return lm_loop(forward(residuals), u0, steps)
    else:
        if gradient == "forward":
            value_and_grad = forward(loss_fn)
        else:

            def value_and_grad(u):
                return _reverse(member_losses, u)

        @jax.jit
        def run(u0):
            return optax_loop(value_and_grad, member_losses, optimizer, u0, steps)

    u, L, status, history = jax.block_until_ready(run(u0))
    final = {n: np.asarray(x) for n, x in to_params(u, bnds).items()}
    L, status = np.asarray(L), np.asarray(status)
    good = np.isfinite(L) & (status == 0)
    best_index = int(np.argmin(np.where(good, L, np.inf))) if good.any() else -1
    best = {n: (float(x[best_index]) if best_index >= 0 else float("nan")) for n, x in final.items()}
    return FitResult(params=final, loss=L, history=np.asarray(history), status=status, starts=start_vals, best=best,
                     best_index=best_index, model=with_params(model, final), bounds=bnds, gradient=gradient,
                     steps=steps, wall_time=time.perf_counter() - t_wall)  # fmt: skip
