"""The optimisation loops of :func:`jaxneuron.fit`: every start at once, one ``lax.scan`` of steps.

* :func:`optax_loop`: any optax ``GradientTransformation``, ``vmap``-ped over the starts.
  A start whose loss or gradient is not finite, or whose simulation failed, is flagged and
  frozen (its update masked), the others go on.
* :func:`lm_loop`: Levenberg--Marquardt on a sum-of-squares loss (``loss = sum r^2``; Levenberg
  1944, Marquardt 1963; Nocedal & Wright, *Numerical Optimization*, 2nd ed., section 10.3), with
  the residual Jacobian from forward mode (as cheap as the gradient: one tangent per parameter).
  Step ``delta = -(J^T J + lam (diag(J^T J) + eps))^-1 J^T r``; a step that raises the loss,
  makes it non-finite or fails the simulation is rejected (back to the last accepted point,
  ``lam`` x 4); an accepted one divides ``lam`` by 3. So a start never leaves a region where
  its loss is defined (e.g. a feature loss on a cell that stops bursting): it retreats. Only a
  start whose *initial* loss is not finite (or simulation failed) is flagged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = ["optax_loop", "lm_loop", "LM_LAMBDA0"]

LM_LAMBDA0 = 1.0
"""Initial Marquardt damping (relative to ``diag(J^T J)``)."""


def _code(L, st, finite_grad=True):
    """0 ok, 1 non-finite loss/gradient, 2 simulation failed."""
    return jnp.where(st != 0, 2, jnp.where(jnp.isfinite(L) & finite_grad, 0, 1))


def optax_loop(value_and_grad, losses, optimizer, u0, steps):
    """``(u, loss, status, history)`` after ``steps`` optax steps from ``u0 (K, P)``.
    ``value_and_grad(u) -> (L (K,), sim_status (K,), G (K, P))``; ``losses(u) -> (L, sim_status)``."""

    def step(carry, _):
        u, state, status = carry
        L, st, G = value_and_grad(u)
        status = jnp.where(status == 0, _code(L, st, jnp.all(jnp.isfinite(G), axis=-1)), status)
        active = status == 0
        G = jnp.where(active[:, None], G, 0.0)
        updates, new_state = jax.vmap(optimizer.update)(G, state, u)
        keep = lambda new, old: jnp.where(active.reshape((-1,) + (1,) * (jnp.ndim(new) - 1)), new, old)  # noqa: E731
        u = keep(optax.apply_updates(u, updates), u)
        return (u, jax.tree_util.tree_map(keep, new_state, state), status), jnp.where(jnp.isfinite(L), L, jnp.nan)

    state0 = jax.vmap(optimizer.init)(u0)
    (u, _, status), history = jax.lax.scan(step, (u0, state0, jnp.zeros(u0.shape[0], jnp.int32)), None, length=steps)
    L, st = losses(u)
    status = jnp.where(status == 0, _code(L, st), status)
    return u, L, status, history


def _lm_step(JtJ, g, lam):
    eps = 1e-12 * (1.0 + jnp.max(jnp.abs(jnp.diagonal(JtJ, axis1=-2, axis2=-1)), axis=-1))
    A = JtJ + lam[:, None, None] * (jax.vmap(jnp.diag)(jnp.diagonal(JtJ, axis1=-2, axis2=-1)) + eps[:, None, None] * jnp.eye(JtJ.shape[-1]))
    return -jnp.linalg.solve(A, g[..., None])[..., 0]


def lm_loop(value_and_jac, u0, steps):
    """``(u, loss, status, history)`` after ``steps`` Levenberg--Marquardt iterations from ``u0
    (K, P)``; ``value_and_jac(u) -> (r (K, m), sim_status (K,), J (K, m, P))``. ``history`` is the
    loss of the last accepted point after each iteration (non-increasing); ``u`` and ``loss`` are
    the last accepted point's."""
    K, P = u0.shape

    def evaluate(u):
        r, st, J = value_and_jac(u)
        L = jnp.sum(r**2, axis=-1)
        ok = (st == 0) & jnp.isfinite(L) & jnp.all(jnp.isfinite(J), axis=(-2, -1))
        return L, st, ok, jnp.einsum("kmp,kmq->kpq", J, J), jnp.einsum("kmp,km->kp", J, r)

    L0, st0, ok0, JtJ0, g0 = evaluate(u0)
    status = jnp.where(ok0, 0, jnp.where(st0 != 0, 2, 1)).astype(jnp.int32)
    lam0 = jnp.full((K,), LM_LAMBDA0)
    clean = lambda x, ok: jnp.where(ok.reshape((-1,) + (1,) * (x.ndim - 1)), x, 0.0)  # noqa: E731
    JtJ0, g0 = clean(JtJ0, ok0), clean(g0, ok0)
    carry0 = (u0, jnp.where(ok0, L0, jnp.inf), JtJ0, g0, lam0, u0 + _lm_step(JtJ0, g0, lam0))

    def step(carry, _):
        u_acc, L_acc, JtJ, g, lam, u_try = carry
        L, st, ok, JtJ_new, g_new = evaluate(u_try)
        accept = ok & (L <= L_acc) & (status == 0)
        keep = lambda new, old: jnp.where(accept.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)  # noqa: E731
        u_acc, L_acc = keep(u_try, u_acc), keep(L, L_acc)
        JtJ, g = keep(clean(JtJ_new, ok), JtJ), keep(clean(g_new, ok), g)
        lam = jnp.clip(jnp.where(accept, lam / 3.0, lam * 4.0), 1e-12, 1e12)
        u_next = jnp.where((status == 0)[:, None], u_acc + _lm_step(JtJ, g, lam), u_acc)
        return (u_acc, L_acc, JtJ, g, lam, u_next), jnp.where(status == 0, L_acc, jnp.nan)

    (u, L, *_), history = jax.lax.scan(step, carry0, None, length=steps)
    return u, jnp.where(status == 0, L, jnp.nan), status, history
