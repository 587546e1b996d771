"""Tabulated kinetics for the fixed-step exponential Euler (``ExpEuler(tabulated=...)``) of models
with V-only gate kinetics (:meth:`~jaxneuron.models.interface.AbstractModel.table_kinetics`: the STG cells).

With a fixed step ``h`` every gate's exponential-Euler update is ``x' = x_inf(V) + (x -
x_inf(V)) e(V)`` with ``e = exp(-h / tau(V))``; both factors depend on V alone (m_KCa's steady
state also carries a [Ca] factor, applied separately). They are tabulated once per solve on a
uniform V grid (:data:`V_RANGE_mV`, step :data:`DV_mV`), as xolotl and NEURON offer: a table
lookup per neuron and step replaces ~22 ``exp`` and ~22 divisions. The V and Ca rows are computed
exactly, as in the untabulated scheme (:func:`fast_exp_euler_update` on the model's linear form,
evaluated at the old state). Two lookups (:data:`TABLE_MODES`):

* ``"nearest"``: the kinetics at the grid voltage nearest to V (at most ``DV/2`` = 0.005 mV away):
  the gate update is the exact update of a voltage off by up to 0.005 mV (for the steepest steady
  state, slope 0.051 / mV, an error of at most 2.6e-4 in ``x_inf``). The fastest.
* ``"linear"``: linear interpolation between the two neighbouring grid points; the factors are
  off by at most ``DV^2 / 8 max|f''|`` (gate updates within 2e-7 of the exact ones, tested).

Both errors are far below the scheme's own at dt = 0.025 ms (README, Performance: burst periods
off by up to 2.5 % with or without tables). Each table entry packs two real numbers into one
complex one (``e + i x_inf`` for ``"nearest"``, ``f + i (f_next - f)`` for ``"linear"``): XLA's
CPU gather costs per element, so halving the elements nearly halves the lookup (measured: float32
nearest 962 -> 1,620 neuron-s/s on 2 cores). A member whose V leaves the table range is not
clipped: its state becomes NaN and its ``status`` 2 (failed).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["V_RANGE_mV", "DV_mV", "TABLE_MODES", "kinetics_table", "make_tabulated_step"]

V_RANGE_mV = (-150.0, 100.0)
DV_mV = 0.01
TABLE_MODES = ("nearest", "linear")
_N_GRID = int(round((V_RANGE_mV[1] - V_RANGE_mV[0]) / DV_mV)) + 1


def kinetics_table(model, h, dtype, mode="nearest"):
    """The packed table of ``model``'s gates for step ``h`` (ms), computed in float64 and stored
    as the complex type of ``dtype``: ``(n_grid, n_gates)`` entries ``e + i x_inf`` (``"nearest"``)
    or ``(n_grid - 1, 2 n_gates)`` entries ``f + i (f_next - f)`` for ``f`` = the ``e`` then the
    ``x_inf`` of each gate (``"linear"``)."""
    if mode not in TABLE_MODES:
        raise ValueError(f"table mode must be one of {TABLE_MODES}, got {mode!r}")
    V = jnp.linspace(*V_RANGE_mV, _N_GRID, dtype=jnp.float64)
    gates = model.table_kinetics().gates(V)
    e = jnp.stack([jnp.broadcast_to(jnp.exp(-h / tau), V.shape) for _, tau in gates], axis=1)
    inf = jnp.stack([jnp.broadcast_to(x_inf, V.shape) for x_inf, _ in gates], axis=1)
    if mode == "nearest":
        packed = e + 1j * inf
    else:
        f = jnp.concatenate([e, inf], axis=1)
        packed = f[:-1] + 1j * (f[1:] - f[:-1])
    return packed.astype(jnp.complex128 if jnp.dtype(dtype) == jnp.float64 else jnp.complex64)


def make_tabulated_step(model, border_rows, stim_at, h, dtype, update, table=None, mode="nearest"):
    """``step(yT, t, h) -> yT`` on the state-major batch ``(n_states, n)`` with tabulated gate
    kinetics (``model.table_kinetics()``). ``border_rows(yT, I) -> (A, B)`` of shape
    ``(n_border, n)``; ``update`` is the exponential Euler update used for the border rows;
    ``table``: :func:`kinetics_table` of ``model``, ``h`` and ``mode`` when the caller already
    built it (built here otherwise). The one voltage is state 0."""
    table = kinetics_table(model, h, dtype, mode) if table is None else table
    n_gates = table.shape[1] if mode == "nearest" else table.shape[1] // 2
    lo = V_RANGE_mV[0]
    kin = model.table_kinetics()
    nb = model.n_border

    def lookup(V):
        u = (V - lo) * (1.0 / DV_mV)
        if mode == "nearest":
            i = jnp.clip(jnp.round(u), 0, _N_GRID - 1).astype(jnp.int32)
            row = table.at[i].get(mode="promise_in_bounds")  # (n, n_gates); i is clipped above
            e, x_inf = row.real.T, row.imag.T
        else:
            i = jnp.clip(jnp.floor(u), 0, _N_GRID - 2).astype(jnp.int32)
            row = table.at[i].get(mode="promise_in_bounds")  # (n, 2 n_gates)
            r = (row.real + (u - i.astype(u.dtype))[:, None] * row.imag).T
            e, x_inf = r[:n_gates], r[n_gates:]
        return e, x_inf, (u >= 0) & (u < _N_GRID - 1)

    def step(yT, t, h_):
        A, B = border_rows(yT, stim_at(t))
        border = update(yT[:nb], A, B, h_)
        e, x_inf, inside = lookup(yT[0])
        if kin.modulated is not None:
            x_inf = x_inf.at[kin.modulated].multiply(kin.modulation(yT[:nb].T))
        gates = x_inf + (yT[nb:] - x_inf) * e
        out = jnp.concatenate([border, gates], axis=0)
        return jnp.where(inside[None], out, jnp.nan)

    return step


def vmapped_border_rows(model, model_axes):
    """``(yT, I) -> (A, B)`` of the border rows for a state-major batch."""
    mapped = jax.vmap(lambda m, y, i: m.border_rows(y, i), in_axes=(model_axes, 1, 0), out_axes=1)
    return lambda yT, I: mapped(model, yT, I)
