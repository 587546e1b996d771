"""Hodgkin-Huxley (1952) squid-axon model in the modern convention (rest near -65 mV).

Hodgkin & Huxley, J Physiol 117:500 (1952); constants and rates as in jaxneuron spec section 1.
State ``(V, m, h, n)``: V in mV, gates dimensionless.
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from ..channels import hh as k
from .base import AbstractNeuron, parameter, stack_states

__all__ = ["HodgkinHuxley"]


class HodgkinHuxley(AbstractNeuron):
    """Hodgkin-Huxley squid giant axon, per unit area.

    ``C dV/dt = -g_Na m^3 h (V - E_Na) - g_K n^4 (V - E_K) - g_L (V - E_L) + I_ext``,
    ``dx/dt = alpha_x(V) (1 - x) - beta_x(V) x``; every rate is multiplied by
    ``3 ** ((T_celsius - 6.3)/10)``. With the defaults the zero-current rest is -64.996 mV.
    Default initial state: gates at steady state at V = -65 mV.
    """

    g_Na: jnp.ndarray = parameter(120.0, "mS/cm^2", "maximal Na conductance", minimum=0.0)
    g_K: jnp.ndarray = parameter(36.0, "mS/cm^2", "maximal delayed-rectifier K conductance", minimum=0.0)
    g_L: jnp.ndarray = parameter(0.3, "mS/cm^2", "leak conductance", minimum=0.0)
    E_Na: jnp.ndarray = parameter(50.0, "mV", "Na reversal potential")
    E_K: jnp.ndarray = parameter(-77.0, "mV", "K reversal potential")
    E_L: jnp.ndarray = parameter(-54.387, "mV", "leak reversal potential")
    C: jnp.ndarray = parameter(1.0, "uF/cm^2", "specific membrane capacitance", positive=True)
    T_celsius: jnp.ndarray = parameter(6.3, "degC", "temperature (Q10 = 3 on all rates, reference 6.3 degC)")
    area: jnp.ndarray = parameter(
        0.628e-3, "cm^2", "membrane area (only converts total synaptic conductances, nS, in a Network)", positive=True
    )

    state_names: ClassVar[tuple[str, ...]] = ("V", "m", "h", "n")
    conductance_names: ClassVar[tuple[str, ...]] = ("g_Na", "g_K", "g_L")
    n_border: ClassVar[int] = 1

    def _rates(self, V):
        phi = k.q10_factor(self.T_celsius)
        return (
            (phi * k.alpha_m(V), phi * k.beta_m(V)),
            (phi * k.alpha_h(V), phi * k.beta_h(V)),
            (phi * k.alpha_n(V), phi * k.beta_n(V)),
        )

    def _conductances(self, y):
        m, h, n = y[..., 1], y[..., 2], y[..., 3]
        return {"Na": (self.g_Na * m**3 * h, self.E_Na), "K": (self.g_K * n**4, self.E_K), "L": (self.g_L, self.E_L)}

    def border_rows(self, y, I_ext):
        """The V row of :meth:`linear_form`, without the gate rates."""
        A_V, B_V = self._membrane_row(self._conductances(y), I_ext)
        return A_V[..., None], jnp.broadcast_to(B_V, jnp.shape(A_V))[..., None]

    def linear_form(self, y, I_ext):
        V = y[..., 0]
        A_V, B_V = self._membrane_row(self._conductances(y), I_ext)
        A, B = [A_V], [B_V]
        for alpha, beta in self._rates(V):
            A.append(alpha)
            B.append(alpha + beta)
        return stack_states(A), stack_states(B)

    def steady_state(self, V=-65.0):
        """State ``(V, m_inf, h_inf, n_inf)`` at membrane potential ``V`` (mV)."""
        V = jnp.asarray(V, dtype=float)
        return stack_states([V] + [a / (a + b) for a, b in self._rates(V)])

    def default_y0(self):
        return self.steady_state(V=-65.0)
