"""One Runge-Kutta step for a whole batch of members at once, state-major ``(n_states, n_slots)``.

These are the steps of the work-queue engine (:mod:`jaxneuron.solvers.queue`), written for the
model class instead of for a general ODE:

* :func:`explicit_step`: an explicit Runge-Kutta pair (Tsitouras 5(4), the tableau Diffrax ships).
* :func:`esdirk_step`: an ESDIRK pair (Kvaerno 5(4) or 3(2), Diffrax's tableaus; Kvaerno 2004,
  BIT 44:489) solved by simplified Newton iterations with one Jacobian per step, where the
  Jacobian is an *arrowhead*: for a single-compartment conductance-based model every gate obeys
  ``dx/dt = A(V, Ca) - B(V, Ca) x``, so its row of the Jacobian is ``-B`` on the diagonal plus
  the border columns (V, Ca), and only the border rows (V, Ca) are full. The Jacobian is read
  off with one linearisation (``n_border`` JVPs for the border columns, ``n_border`` transposed
  products for the border rows, the diagonal is ``-B`` from :meth:`linear_form`), and each
  Newton system ``(I - h gamma J) x = r`` is solved in O(n) through the Schur complement on the
  border (Hairer & Wanner, *Solving ODEs II*, IV.8 for the simplified Newton iteration and its
  stopping test).

Each function returns the proposed state, the error estimate, the right-hand side at the end
point (FSAL), and whether the stage solves converged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["explicit_step", "esdirk_step", "arrowhead_jacobian", "scaled_rms"]


def scaled_rms(x, y0, y1, rtol, atol):
    """Per-slot RMS over states of ``x / (atol + rtol max(|y0|, |y1|))`` (Diffrax's error norm)."""
    scale = atol + rtol * jnp.maximum(jnp.abs(y0), jnp.abs(y1))
    return jnp.sqrt(jnp.mean((x / scale) ** 2, axis=0))


def _combine(ks, coeffs):
    out = None
    for k, a in zip(ks, coeffs):
        if a != 0.0:
            out = a * k if out is None else out + a * k
    return 0.0 if out is None else out


def explicit_step(rhs, tableau, t, y, f0, h):
    """One step of an explicit FSAL Runge-Kutta pair. ``rhs(t, y)`` with ``t`` of shape ``(S,)``."""
    ks = [f0]
    for a_row, c in zip(tableau.a_lower, tableau.c):
        ks.append(rhs(t + float(c) * h, y + h * _combine(ks, [float(a) for a in a_row])))
    y1 = y + h * _combine(ks, [float(b) for b in tableau.b_sol])
    err = h * _combine(ks, [float(b) for b in tableau.b_error])
    f1 = ks[-1] if tableau.fsal else rhs(t + h, y1)
    return y1, err, f1, jnp.ones(t.shape, bool)


def arrowhead_jacobian(rhs_linear_form, t, y, n_border):
    """Border columns ``(nb, n, S)``, border rows ``(nb, n, S)`` and diagonal ``(n, S)`` of the
    Jacobian of ``f = A - B y`` at ``(t, y)`` (the diagonal is exact on the non-border states)."""

    def f(yy):
        A, B = rhs_linear_form(t, yy)
        return A - B * yy

    _, B = rhs_linear_form(t, y)
    _, f_jvp = jax.linearize(f, y)
    f_vjp = jax.linear_transpose(f_jvp, y)
    n = y.shape[0]
    cols, rows = [], []
    for b in range(n_border):
        e = jnp.zeros_like(y).at[b].set(1.0)
        cols.append(f_jvp(e))
        rows.append(f_vjp(e)[0])
    return jnp.stack(cols), jnp.stack(rows), -B if n > n_border else None


class _Newton:
    """The Newton matrix ``M = I - g J`` (``g = h gamma``) of an arrowhead ``J``, factored once
    per step: ``solve(r)`` costs O(n)."""

    def __init__(self, cols, rows, diag, g, n_border):
        nb = n_border
        self.nb = nb
        eye = np.eye(nb)
        P = eye[:, :, None] - g * rows[:, :nb]  # (nb, nb, S): M[a, b]
        self.Q = -g * rows[:, nb:]  # (nb, m, S): M[a, nb + j]
        R = -g * cols[:, nb:]  # (nb, m, S): M[nb + j, b]
        self.dinv = 1.0 / (1.0 - g * diag[nb:])  # (m, S)
        self.DR = R * self.dinv  # D^-1 R
        S = P - jnp.einsum("ajs,bjs->abs", self.Q, self.DR)
        if nb == 1:
            self.Sinv = 1.0 / S
        elif nb == 2:
            det = S[0, 0] * S[1, 1] - S[0, 1] * S[1, 0]
            self.Sinv = jnp.stack([jnp.stack([S[1, 1], -S[0, 1]]), jnp.stack([-S[1, 0], S[0, 0]])]) / det
        else:
            self.Sinv = jnp.moveaxis(jnp.linalg.inv(jnp.moveaxis(S, -1, 0)), 0, -1)

    def solve(self, r):
        nb = self.nb
        r1, r2 = r[:nb], r[nb:]
        d2 = r2 * self.dinv
        rhs = r1 - jnp.sum(self.Q * d2[None], axis=1)
        x1 = jnp.sum(self.Sinv * rhs[None], axis=1)
        x2 = d2 - jnp.sum(self.DR * x1[:, None], axis=0)
        return jnp.concatenate([x1, x2])


def esdirk_step(rhs, rhs_linear_form, tableau, t, y, f0, h, *, n_border, rtol, atol, newton_tol, max_newton):
    """One step of an ESDIRK pair (first stage explicit, FSAL, constant diagonal ``gamma``).

    Stage ``i`` solves ``z = y + h sum_j a_ij k_j + h gamma f(t + c_i h, z)`` by simplified Newton
    from the explicit predictor ``y + h sum_j a_ij k_j + h gamma k_{i-1}``; the iteration stops
    when the update, in the error norm, is below ``newton_tol`` or its rate-extrapolated remainder
    ``theta / (1 - theta) |dz|`` is (Hairer & Wanner IV.8); it fails on ``theta >= 1`` or after
    ``max_newton`` iterations, and then the step is rejected by the caller. ``k_i`` is taken as
    ``(z - y - h sum_j a_ij k_j) / (h gamma)``.
    """
    gamma = float(tableau.a_diagonal[1])
    assert all(abs(float(a) - gamma) < 1e-15 for a in tableau.a_diagonal[1:])
    g = h * gamma
    cols, rows, diag = arrowhead_jacobian(rhs_linear_form, t, y, n_border)
    newton = _Newton(cols, rows, diag, g, n_border)
    ks = [f0]
    ok = jnp.ones(t.shape, bool)
    for a_row, c in zip(tableau.a_lower, tableau.c):
        known = y + h * _combine(ks, [float(a) for a in a_row])
        tc = t + float(c) * h

        def cond(state):
            it, _, _, done, _ = state
            return (it < max_newton) & ~jnp.all(done)

        def body(state):
            it, z, dprev, done, fail = state
            dz = -newton.solve(z - known - g * rhs(tc, z))
            dnorm = scaled_rms(dz, y, y, rtol, atol)
            theta = dnorm / jnp.where(dprev > 0, dprev, jnp.inf)
            conv = (dnorm <= newton_tol) | ((it > 0) & (theta < 1) & (theta / (1 - theta) * dnorm <= newton_tol))
            div = (it > 0) & ((theta >= 1) | ~jnp.isfinite(dnorm))
            z = jnp.where(done[None], z, z + dz)
            fail = fail | (~done & div)
            done = done | conv | div
            return it + 1, z, dnorm, done, fail

        z0 = known + g * ks[-1]
        init = (0, z0, jnp.zeros(t.shape, y.dtype), jnp.zeros(t.shape, bool), jnp.zeros(t.shape, bool))
        _, z, _, done, fail = jax.lax.while_loop(cond, body, init)
        ok = ok & done & ~fail
        ks.append((z - known) / g)
    y1 = y + h * _combine(ks, [float(b) for b in tableau.b_sol])
    err = h * _combine(ks, [float(b) for b in tableau.b_error])
    return y1, err, ks[-1], ok
