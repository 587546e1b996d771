"""Bounded reparameterisation of fitted parameters: the optimiser works on unconstrained ``u``.

Each fitted parameter has a :class:`Bound` ``(low, high, scale)``:

* ``scale = "linear"``, finite ``high``: ``theta = low + (high - low) * sigmoid(u)``;
* ``scale = "log"`` (``0 < low < high < inf``): ``log theta = log low + (log high - log low) *
  sigmoid(u)`` -- for conductances whose plausible values span decades (e.g. ``g_H`` in
  1e-4 .. 0.05 mS/cm^2), so that an optimiser step moves them by a ratio, not an amount;
* ``high = inf``: ``theta = low + softplus(u)`` (a lower bound only).

The map is clipped to ``[low, high]`` after the arithmetic, so no value of ``u`` -- not even
``+-inf`` or ``1e308`` -- can give a ``theta`` outside the bounds (rounding in ``low + (high -
low) * s`` could otherwise overshoot by one ulp). Starts must lie strictly inside: on a bound
the inverse map is infinite. The sigmoid/softplus transforms are the usual ones of constrained
optimisation (e.g. Stan's reference manual, "Constraint transforms"; Jaxley's
``jaxley.optimize.transforms``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Bound", "parse_bounds", "to_params", "to_unconstrained", "random_starts", "check_starts"]


class Bound(NamedTuple):
    """Allowed range ``[low, high]`` of one fitted parameter (model units) and its ``scale``
    (``"linear"`` or ``"log"``); ``high = inf`` gives a lower bound only (softplus)."""

    low: float
    high: float
    scale: str = "linear"


def parse_bounds(bounds, names) -> dict[str, Bound]:
    """``{name: Bound}`` for every fitted ``name`` from ``bounds`` (``{name: (low, high)}``,
    ``(low, high, "log")`` or a :class:`Bound`); clear errors for missing, extra or inverted ones."""
    if not isinstance(bounds, dict):
        raise TypeError(f"bounds must be a dict {{name: (low, high)}} (model units), got {type(bounds).__name__}")
    missing = [n for n in names if n not in bounds]
    extra = [n for n in bounds if n not in names]
    if missing:
        raise ValueError(f"bounds: no range given for fitted parameter(s) {missing}; give (low, high) for each of {list(names)}")
    if extra:
        raise ValueError(f"bounds: {extra} are not fitted (params = {list(names)})")
    out = {}
    for name in names:
        b = bounds[name]
        if not isinstance(b, (tuple, list)) or len(b) not in (2, 3):
            raise ValueError(f"bounds[{name!r}] must be (low, high) or (low, high, 'log'), got {b!r}")
        low, high = float(b[0]), float(b[1])
        scale = b[2] if len(b) == 3 else "linear"
        if scale not in ("linear", "log"):
            raise ValueError(f"bounds[{name!r}]: scale must be 'linear' or 'log', got {scale!r}")
        if not (math.isfinite(low) and not math.isnan(high)):
            raise ValueError(f"bounds[{name!r}]: low must be finite and high a number or inf, got ({low}, {high})")
        if not low < high:
            raise ValueError(f"bounds[{name!r}] = ({low:g}, {high:g}) is inverted or empty: need low < high")
        if scale == "log" and not (low > 0 and math.isfinite(high)):
            raise ValueError(f"bounds[{name!r}]: a log scale needs 0 < low < high < inf, got ({low:g}, {high:g})")
        out[name] = Bound(low, high, scale)
    return out


def _one_to_param(u, b: Bound):
    if math.isinf(b.high):
        theta = b.low + jax.nn.softplus(u)
    elif b.scale == "log":
        la, lb = math.log(b.low), math.log(b.high)
        theta = jnp.exp(la + (lb - la) * jax.nn.sigmoid(u))
    else:
        theta = b.low + (b.high - b.low) * jax.nn.sigmoid(u)
    return jnp.clip(theta, b.low, min(b.high, float(np.finfo(np.float64).max)))  # finite even for u = inf


def _one_to_unconstrained(theta, b: Bound):
    if math.isinf(b.high):
        x = theta - b.low  # inverse softplus: log(expm1(x)), written stably for large x
        return x + jnp.log(-jnp.expm1(-x))
    if b.scale == "log":
        la, lb = math.log(b.low), math.log(b.high)
        s = (jnp.log(theta) - la) / (lb - la)
    else:
        s = (theta - b.low) / (b.high - b.low)
    return jnp.log(s) - jnp.log1p(-s)


def to_params(u, bounds: dict[str, Bound]):
    """Parameters ``{name: theta (...,)}`` from unconstrained ``u (..., n_params)`` (columns in
    the order of ``bounds``); always within the bounds."""
    return {name: _one_to_param(u[..., i], b) for i, (name, b) in enumerate(bounds.items())}


def to_unconstrained(theta: dict, bounds: dict[str, Bound]):
    """Inverse of :func:`to_params`: ``u (..., n_params)`` from ``{name: theta}`` strictly inside the bounds."""
    return jnp.stack([_one_to_unconstrained(jnp.asarray(theta[n], float), b) for n, b in bounds.items()], axis=-1)


def random_starts(key, k: int, bounds: dict[str, Bound]) -> dict[str, np.ndarray]:
    """``k`` starts drawn independently for each parameter: uniform within linear bounds,
    log-uniform within log bounds, ``low + Exp(1)`` for a lower bound only; never on a bound."""
    keys = jax.random.split(key, len(bounds))
    out = {}
    for kk, (name, b) in zip(keys, bounds.items()):
        s = np.asarray(jax.random.uniform(kk, (k,), minval=1e-6, maxval=1.0 - 1e-6))
        if math.isinf(b.high):
            out[name] = b.low - np.log1p(-s)
        elif b.scale == "log":
            out[name] = np.exp(math.log(b.low) + (math.log(b.high) - math.log(b.low)) * s)
        else:
            out[name] = b.low + (b.high - b.low) * s
    return out


def check_starts(starts: dict, bounds: dict[str, Bound]) -> dict[str, np.ndarray]:
    """Starts as ``{name: (k,) float64}``; a clear error names the parameter whose start is not
    finite or not strictly inside its bounds (the reparameterisation cannot represent it)."""
    names = list(bounds)
    missing = [n for n in names if n not in starts]
    extra = [n for n in starts if n not in names]
    if missing or extra:
        raise ValueError(f"starts must give exactly the fitted parameters {names}; missing {missing}, not fitted {extra}")
    arrays = {n: np.atleast_1d(np.asarray(starts[n], dtype=np.float64)) for n in names}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(f"starts: each parameter needs a 1-D array of the same length (one value per start), got shapes "
                         f"{ {n: a.shape for n, a in arrays.items()} }")  # fmt: skip
    for n, a in arrays.items():
        b = bounds[n]
        bad = ~(np.isfinite(a) & (a > b.low) & (a < b.high))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"bounds ({b.low:g}, {b.high:g}) of {n!r} exclude start {i} ({a[i]!r}): every start must lie "
                             "strictly inside its bounds")  # fmt: skip
    return arrays
