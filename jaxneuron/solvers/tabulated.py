"""Tabulated kinetics for the fixed-step exponential Euler of STG models (``ExpEuler(tabulated=True)``).

With a fixed step ``h`` every gate's exponential-Euler update is ``x' = x_inf(V) + (x -
x_inf(V)) e(V)`` with ``e = exp(-h / tau(V))``; both factors depend on V alone (m_KCa's steady
state also carries a [Ca] factor, applied separately). They are tabulated once per solve on a
uniform V grid (:data:`V_RANGE_mV`, step :data:`DV_mV`) and linearly interpolated, as xolotl and
NEURON offer: one row gather per neuron and step replaces ~22 ``exp`` and ~22 divisions. The V
and Ca rows are computed exactly, as in the untabulated scheme (:func:`fast_exp_euler_update` on
the model's linear form, evaluated at the old state).

Interpolation error: at most ``DV^2 / 8 max|f''|`` per factor (~1e-7 of the factor's range at
0.01 mV); the tests compare spike times with the untabulated scheme. A member whose V leaves the
table range is not clipped: its state becomes NaN and its ``status`` 2 (failed).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["V_RANGE_mV", "DV_mV", "kinetics_table", "supports_tables", "make_tabulated_step"]

V_RANGE_mV = (-150.0, 100.0)
DV_mV = 0.01


def supports_tables(model) -> bool:
    """Whether ``model`` exposes V-only gate kinetics (the STG models do)."""
    return hasattr(model, "_gates_inf_tau_V") and hasattr(model, "_border_rows")


def kinetics_table(model, h, dtype):
    """``(n_grid, 2 n_gates)``: ``exp(-h/tau)`` then ``x_inf`` of each gate on the V grid
    (computed in float64, stored in ``dtype``)."""
    lo, hi = V_RANGE_mV
    n = int(round((hi - lo) / DV_mV)) + 1
    V = jnp.linspace(lo, hi, n, dtype=jnp.float64)
    gates = model._gates_inf_tau_V(V)
    e = jnp.stack([jnp.broadcast_to(jnp.exp(-h / tau), V.shape) for _, tau in gates], axis=1)
    inf = jnp.stack([jnp.broadcast_to(x_inf, V.shape) for x_inf, _ in gates], axis=1)
    return jnp.concatenate([e, inf], axis=1).astype(dtype)


def make_tabulated_step(model, border_rows, stim_at, h, dtype, update, table=None):
    """``step(yT, t, h) -> yT`` on the state-major batch ``(n_states, n)`` with tabulated gate
    kinetics. ``border_rows(yT, I) -> (A, B)`` of shape ``(2, n)``; ``update`` is the exponential
    Euler update used for the V and Ca rows; ``table``: :func:`kinetics_table` of ``model`` and
    ``h`` when the caller already built it (built here otherwise)."""
    table = kinetics_table(model, h, dtype) if table is None else table
    n_grid, two_g = table.shape
    n_gates = two_g // 2
    lo = V_RANGE_mV[0]
    cg = model.calcium_gate

    def step(yT, t, h_):
        A, B = border_rows(yT, stim_at(t))
        border = update(yT[:2], A, B, h_)
        V, Ca = yT[0], yT[1]
        u = (V - lo) * (1.0 / DV_mV)
        inside = (u >= 0) & (u < n_grid - 1)
        i = jnp.clip(jnp.floor(u), 0, n_grid - 2).astype(jnp.int32)
        w = (u - i.astype(u.dtype))[:, None]
        r0, r1 = table[i], table[i + 1]
        r = (r0 + w * (r1 - r0)).T  # (2 n_gates, n)
        e, x_inf = r[:n_gates], r[n_gates:]
        x_inf = x_inf.at[cg].multiply(model.calcium_factor(Ca))
        gates = x_inf + (yT[2:] - x_inf) * e
        out = jnp.concatenate([border, gates], axis=0)
        return jnp.where(inside[None], out, jnp.nan)

    return step


def vmapped_border_rows(model, model_axes):
    """``(yT, I) -> (A, B)`` of the V and Ca rows for a state-major batch."""

    def one(m, y, i):
        A, B = m._border_rows(y, i)
        return jnp.stack(A), jnp.stack(B)

    mapped = jax.vmap(one, in_axes=(model_axes, 1, 0), out_axes=1)
    return lambda yT, I: mapped(model, yT, I)
