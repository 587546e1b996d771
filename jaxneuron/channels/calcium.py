"""Calcium reversal potential (Nernst) shared by the STG models (spec section 2.4)."""

from __future__ import annotations

import jax.numpy as jnp

R_J_PER_MOL_K = 8.314462618  # CODATA 2018
F_C_PER_MOL = 96485.33212  # CODATA 2018
CA_LOG_FLOOR_uM = 1e-9
"""Floor applied to [Ca] *inside the logarithm only*; the Ca state itself is never clamped."""


def nernst_factor_mV(T_celsius, z=2.0):
    """``R T / (z F)`` in mV (12.2000 mV for Ca2+ at 10 degC)."""
    return 1e3 * R_J_PER_MOL_K * (T_celsius + 273.15) / (z * F_C_PER_MOL)


def E_Ca(Ca, Ca_out, T_celsius):
    """Dynamic calcium reversal potential (mV): ``RT/2F * ln(Ca_out / Ca)``, concentrations in uM."""
    return nernst_factor_mV(T_celsius) * (jnp.log(Ca_out) - jnp.log(jnp.maximum(Ca, CA_LOG_FLOOR_uM)))
