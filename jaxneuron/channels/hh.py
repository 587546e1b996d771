"""Hodgkin & Huxley (1952) rate functions, modern convention (rest near -65 mV).

Source: Hodgkin & Huxley, J Physiol 117:500 (1952), with ``V_modern = -V_HH - 65`` mV
(jaxneuron spec section 1). Rates are in 1/ms at 6.3 degC, ``V`` in mV.
``alpha_m`` and ``alpha_n`` have removable singularities at -40 mV and -55 mV; they are written
through :func:`exprel` so they are exact there (1 and 0.1 1/ms) with finite gradients.
"""

from __future__ import annotations

import jax.numpy as jnp

from .common import exprel

__all__ = ["alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n", "q10_factor"]


def alpha_m(V):
    """Na activation opening rate (1/ms): ``0.1 (V+40) / (1 - exp(-(V+40)/10))``."""
    return exprel((V + 40.0) / 10.0)


def beta_m(V):
    """Na activation closing rate (1/ms): ``4 exp(-(V+65)/18)``."""
    return 4.0 * jnp.exp(-(V + 65.0) / 18.0)


def alpha_h(V):
    """Na inactivation removal rate (1/ms): ``0.07 exp(-(V+65)/20)``."""
    return 0.07 * jnp.exp(-(V + 65.0) / 20.0)


def beta_h(V):
    """Na inactivation rate (1/ms): ``1 / (1 + exp(-(V+35)/10))``."""
    return 1.0 / (1.0 + jnp.exp(-(V + 35.0) / 10.0))


def alpha_n(V):
    """K activation opening rate (1/ms): ``0.01 (V+55) / (1 - exp(-(V+55)/10))``."""
    return 0.1 * exprel((V + 55.0) / 10.0)


def beta_n(V):
    """K activation closing rate (1/ms): ``0.125 exp(-(V+65)/80)``."""
    return 0.125 * jnp.exp(-(V + 65.0) / 80.0)


def q10_factor(T_celsius, T_ref=6.3, q10=3.0):
    """Temperature factor ``q10 ** ((T - T_ref)/10)`` multiplying every HH rate (dimensionless)."""
    return q10 ** ((T_celsius - T_ref) / 10.0)
