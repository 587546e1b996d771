"""Gate kinetics of the stomatogastric (STG) model neuron family.

Steady states are shared by Liu et al. 1998 (J Neurosci 18:2309) and Prinz, Billimoria & Marder
2003 (J Neurophysiol 90:3998); Prinz's time constants are exactly twice Liu's for every current
except I_H, which Prinz replaced (jaxneuron spec sections 2.3 and 4). ``V`` in mV, time constants
in ms, ``Ca`` in uM. Each ``*_tau_liu`` function is the Liu 1998 form; models multiply by their
``tau_scale`` (1 for Liu, 2 for Prinz).
"""

from __future__ import annotations

import jax.numpy as jnp

from .common import boltzmann as B

# --- steady states (shared) -------------------------------------------------------------------


def m_Na_inf(V):
    return B(V, 25.5, -5.29)


def h_Na_inf(V):
    return B(V, 48.9, 5.18)


def m_CaT_inf(V):
    return B(V, 27.1, -7.2)


def h_CaT_inf(V):
    return B(V, 32.1, 5.5)


def m_CaS_inf(V):
    return B(V, 33.0, -8.1)


def h_CaS_inf(V):
    return B(V, 60.0, 6.2)


def m_A_inf(V):
    return B(V, 27.2, -8.7)


def h_A_inf(V):
    return B(V, 56.9, 4.9)


KCA_HALF_ACTIVATION_uM = 3.0
"""Half-activation [Ca] of I_KCa (uM), Hill coefficient 1 (spec section 2.3)."""


def kca_calcium_factor(Ca):
    """The [Ca] factor ``Ca/(Ca + 3 uM)`` of the KCa activation steady state."""
    return Ca / (Ca + KCA_HALF_ACTIVATION_uM)


def m_KCa_inf_V(V):
    """The voltage factor ``B(V; 28.3, -12.6)`` of the KCa activation steady state."""
    return B(V, 28.3, -12.6)


def m_KCa_inf(V, Ca):
    """KCa activation steady state: ``Ca/(Ca + 3 uM) * B(V; 28.3, -12.6)``."""
    return kca_calcium_factor(Ca) * m_KCa_inf_V(V)


def m_Kd_inf(V):
    return B(V, 12.3, -11.8)


# --- time constants, Liu 1998 form (Prinz 2003 = 2x) -------------------------------------------


def m_Na_tau_liu(V):
    return 1.32 - 1.26 * B(V, 120.0, -25.0)


def h_Na_tau_liu(V):
    return 0.67 * B(V, 62.9, -10.0) * (1.5 + B(V, 34.9, 3.6))


def m_CaT_tau_liu(V):
    return 21.7 - 21.3 * B(V, 68.1, -20.5)


def h_CaT_tau_liu(V):
    return 105.0 - 89.8 * B(V, 55.0, -16.9)


def m_CaS_tau_liu(V):
    return 1.4 + 7.0 / (jnp.exp((V + 27.0) / 10.0) + jnp.exp((V + 70.0) / -13.0))


def h_CaS_tau_liu(V):
    return 60.0 + 150.0 / (jnp.exp((V + 55.0) / 9.0) + jnp.exp((V + 65.0) / -16.0))


def m_A_tau_liu(V):
    return 11.6 - 10.4 * B(V, 32.9, -15.2)


def h_A_tau_liu(V):
    return 38.6 - 29.2 * B(V, 38.9, -26.5)


def m_KCa_tau_liu(V):
    return 90.3 - 75.1 * B(V, 46.0, -22.7)


def m_Kd_tau_liu(V):
    return 7.2 - 6.4 * B(V, 28.3, -19.2)


# --- I_H: the two models differ ----------------------------------------------------------------


def m_H_inf_liu(V):
    """Liu 1998 I_H activation: ``B(V; 70, 6)``."""
    return B(V, 70.0, 6.0)


def m_H_tau_liu(V):
    """Liu 1998 I_H time constant (ms): ``272 + 1499 B(V; 42.2, -8.73)``."""
    return 272.0 + 1499.0 * B(V, 42.2, -8.73)


def m_H_inf_prinz(V):
    """Prinz 2003 I_H activation: ``B(V; 75, 5.5)``."""
    return B(V, 75.0, 5.5)


def m_H_tau_prinz(V):
    """Prinz 2003 I_H time constant (ms): ``2 / (exp((V+169.7)/-11.6) + exp((V-26.7)/14.3))``."""
    return 2.0 / (jnp.exp((V + 169.7) / -11.6) + jnp.exp((V - 26.7) / 14.3))
