"""What makes the implicit (Kvaerno) path cheap on conductance-based neurons.

1. :class:`ArrowheadSolver`, a Lineax linear solver for the Newton systems ``(I - c h J) x = r``.
   The Jacobian ``J`` of a single-compartment conductance-based neuron is an *arrowhead*: every
   gate depends only on itself and on the first ``n_border`` states (V, and Ca for calcium models),
   while those border states depend on everything. So ``M = I - c h J`` has non-zeros only in
   its first ``n_border`` rows and columns and on its diagonal, and is read off the linearised
   operator with ``2 n_border + 1`` products (the border columns by JVP, the border rows by
   transposed products, the gate diagonal by one JVP with ones on the gates) instead of one JVP
   per state, then solved in O(n) through the Schur complement on the border instead of a dense
   LU. The result equals the dense solve to rounding (``tests/test_performance_paths.py``).

2. :class:`NeuronChord`, Diffrax's ``VeryChord`` (one Jacobian per step) with a different
   termination test. ``VeryChord`` (Diffrax 0.7.2) reports failure at the second iteration unless
   its rate estimate already says "converged" (optimistix stops at the first non-successful
   result, so ``root_find_max_steps`` is never reached), and it calls growing but tiny updates
   diverged; every failed stage rejects the step and shrinks it 5x. Here the iteration stops
   successfully once an update is ``tol_factor`` below the tolerance (or the rate estimate says
   converged), fails only on divergence, and otherwise goes on up to ``root_find_max_steps``.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import optimistix as optx
from diffrax._root_finder._verychord import VeryChord, _converged, _diverged, _small

__all__ = ["ArrowheadSolver", "NeuronChord", "arrowhead_parts", "arrowhead_solve"]


def arrowhead_parts(operator, n_border: int):
    """``(cols, rows, diag)`` of a square arrowhead operator on a flat vector of size ``n``:
    ``cols[b] = M[:, b]``, ``rows[b] = M[b, :]`` for ``b < n_border`` and ``diag = diag(M)``
    (valid on the non-border part)."""
    struct = operator.in_structure()
    n = struct.shape[0]
    dtype = struct.dtype
    eye = jnp.eye(n, dtype=dtype)
    cols = jnp.stack([operator.mv(eye[b]) for b in range(n_border)])
    rows = jnp.stack([operator.transpose().mv(eye[b]) for b in range(n_border)])
    ones_tail = jnp.where(jnp.arange(n) >= n_border, 1.0, 0.0).astype(dtype)
    diag = operator.mv(ones_tail)
    return cols, rows, diag


def arrowhead_solve(cols, rows, diag, r, n_border: int):
    """Solve ``M x = r`` for the arrowhead ``M`` given by :func:`arrowhead_parts`."""
    nb = n_border
    d = diag[nb:]
    P = rows[:, :nb]  # (nb, nb) border block
    Q = rows[:, nb:]  # (nb, m)  border rows on the gates
    R = cols[:, nb:]  # (nb, m)  border columns on the gates (R[b, j] = M[nb + j, b])
    r1, r2 = r[:nb], r[nb:]
    Dinv_r2 = r2 / d
    Dinv_R = R / d  # (nb, m)
    S = P - Q @ Dinv_R.T  # Schur complement, S[a, b] = P[a, b] - sum_j Q[a, j] R[b, j] / d_j
    rhs = r1 - Q @ Dinv_r2
    if nb == 1:
        x1 = rhs / S[0, 0]
    elif nb == 2:
        det = S[0, 0] * S[1, 1] - S[0, 1] * S[1, 0]
        x1 = jnp.stack([S[1, 1] * rhs[0] - S[0, 1] * rhs[1], S[0, 0] * rhs[1] - S[1, 0] * rhs[0]]) / det
    else:
        x1 = jnp.linalg.solve(S, rhs)
    x2 = Dinv_r2 - Dinv_R.T @ x1
    return jnp.concatenate([x1, x2])


class ArrowheadSolver(lx.AbstractLinearSolver):
    """Lineax solver for square arrowhead operators on a flat (1-D array) state; see module doc.

    ``n_border``: number of leading states that every other state may depend on (2 for the STG
    models' V and Ca; also exact for Hodgkin-Huxley, whose gates depend on V only).
    """

    n_border: int = eqx.field(static=True, default=2)

    def init(self, operator, options: dict[str, Any]):
        del options
        if operator.in_size() != operator.out_size():
            raise ValueError("ArrowheadSolver needs a square operator")
        if len(jax.tree_util.tree_leaves(operator.in_structure())) != 1 or len(operator.in_structure().shape) != 1:
            raise ValueError("ArrowheadSolver needs the state to be a single 1-D array")
        return arrowhead_parts(operator, self.n_border)

    def compute(self, state, vector, options: dict[str, Any]):
        del options
        cols, rows, diag = state
        x = arrowhead_solve(cols, rows, diag, vector, self.n_border)
        return x, lx.RESULTS.successful, {}

    def transpose(self, state, options: dict[str, Any]):
        cols, rows, diag = state
        return (rows, cols, diag), options

    def conj(self, state, options: dict[str, Any]):
        cols, rows, diag = state
        return (cols.conj(), rows.conj(), diag.conj()), options

    def assume_full_rank(self):
        return True

    # lineax < 0.0.8 API names, harmless on newer versions
    def allow_dependent_columns(self, operator):
        return False

    def allow_dependent_rows(self, operator):
        return False


class NeuronChord(VeryChord):
    """``VeryChord`` whose iteration also terminates successfully once an update is
    ``tol_factor`` times below the tolerance (see module doc)."""

    tol_factor: float = eqx.field(static=True, default=1e-2)

    def terminate(self, fn, y, args, options, state, tags):
        del fn, y, args, options, tags
        at_least_one = state.step >= 1
        at_least_two = state.step >= 2
        rate = state.diffsize / state.diffsize_prev
        factor = state.diffsize * rate / (1 - rate)
        small = at_least_one & (_small(state.diffsize) | (state.diffsize < self.tol_factor))
        converged = small | (at_least_two & _converged(factor, self.kappa))
        diverged = at_least_two & _diverged(rate) & jnp.invert(converged)
        # optimistix stops at the first non-successful result, so report failure only on divergence;
        # a slowly converging iteration goes on up to ``root_find_max_steps``.
        result = optx.RESULTS.where(diverged, optx.RESULTS.nonlinear_divergence, optx.RESULTS.successful)
        linsolve_fail = state.result != optx.RESULTS.successful
        terminate = linsolve_fail | converged | diverged
        return terminate, optx.RESULTS.where(linsolve_fail, state.result, result)
