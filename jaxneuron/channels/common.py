"""Elementary functions shared by all gate kinetics.

All functions are pure, elementwise and safe under ``jit``, ``vmap`` and ``grad``.
Voltages are in mV, times in ms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["boltzmann", "exprel", "phi1"]


def boltzmann(V, a, k):
    """Boltzmann curve ``B(V; a, k) = 1 / (1 + exp((V + a) / k))`` (dimensionless).

    With this form a negative ``k`` (mV) gives an activation curve (increasing in ``V``) and a
    positive ``k`` an inactivation curve (Prinz et al. 2003; Liu et al. 1998 sign convention).
    Evaluated as ``sigmoid(-(V + a)/k)``, which never overflows.
    """
    return jax.nn.sigmoid(-(V + a) / k)


def _small(x):
    eps = 1e-6 if jnp.result_type(x) == jnp.float64 else 1e-3
    return jnp.abs(x) < eps


def exprel(x):
    """``psi(x) = x / (1 - exp(-x))`` with the removable singularity ``psi(0) = 1`` handled exactly.

    Used for the Hodgkin-Huxley rates ``alpha_m`` (singular at -40 mV) and ``alpha_n`` (singular
    at -55 mV). Near 0 the series ``1 + x/2 + x^2/12`` (error O(x^4)) is used; the "double
    where" keeps the gradient finite (``psi'(0) = 1/2``) when ``x`` is exactly 0.
    """
    x = jnp.asarray(x)
    small = _small(x)
    x_safe = jnp.where(small, 1.0, x)
    regular = x_safe / (-jnp.expm1(-x_safe))
    series = 1.0 + x / 2.0 + x * x / 12.0
    return jnp.where(small, series, regular)


def phi1(z):
    """``phi1(z) = (exp(z) - 1) / z`` with ``phi1(0) = 1``, safe in value and gradient.

    The exponential-Euler update of ``dy/dt = A - B y`` over a step ``h`` is
    ``y + h (A - B y) phi1(-B h)``, exact for frozen ``A`` and ``B`` and well defined for ``B = 0``.
    """
    z = jnp.asarray(z)
    small = _small(z)
    z_safe = jnp.where(small, 1.0, z)
    regular = jnp.expm1(z_safe) / z_safe
    series = 1.0 + z / 2.0 + z * z / 6.0
    return jnp.where(small, series, regular)
