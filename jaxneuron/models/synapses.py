"""Synapses between single-compartment cells: graded chemical synapses, gap junctions, and
spike-driven exponential synapses between integrate-and-fire cells.

Synapses are immutable :class:`equinox.Module` pytrees whose strengths and constants are array
leaves (sweepable, batchable, differentiable). Strengths are **total** conductances in nS, as
Prinz et al. 2004 give them; a :class:`~jaxneuron.Network` divides them by the postsynaptic
membrane area to enter the per-area membrane equation (1 nS on 0.628e-3 cm^2 = 1.592e-3 mS/cm^2,
spec section 3.2). Currents are outward positive: ``I_s = g s (V_post - E_s)``.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from .base import check_parameters, parameter

__all__ = ["GradedSynapse", "GapJunction", "ExponentialSynapse", "TRANSMITTERS", "NS_PER_CM2_TO_MS", "per_area"]

NS_PER_CM2_TO_MS = 1e-6
"""mS per nS: ``g [mS/cm^2] = g [nS] * 1e-6 / area [cm^2]``."""


def per_area(g_nS, area_cm2):
    """A total conductance (nS) as a density (mS/cm^2) on a membrane of ``area_cm2`` (cm^2)."""
    return g_nS * NS_PER_CM2_TO_MS / area_cm2


TRANSMITTERS = {
    "glutamate": dict(E_s=-70.0, k_minus=1.0 / 40.0),
    "acetylcholine": dict(E_s=-80.0, k_minus=1.0 / 100.0),
}
"""Prinz et al. 2004 synapse types (spec 3.1): reversal ``E_s`` (mV) and unbinding rate
``k_minus`` (1/ms). Glutamatergic synapses come from AB and LP and PY, cholinergic from PD."""


class GradedSynapse(eqx.Module):
    """A graded (non-spiking) chemical synapse of Prinz, Bucher & Marder 2004 (spec 3.2) from cell
    ``pre`` onto cell ``post`` (cell names of the :class:`~jaxneuron.Network`).

    ``I_s = g s (V_post - E_s)`` (pA with ``g`` in nS; outward positive) and the first-order
    binding form ``ds/dt = k_minus [exp((V_pre - V_th)/Delta) (1 - s) - s]``, i.e.
    ``s_inf = 1 / (1 + exp((V_th - V_pre)/Delta))`` and ``tau_s = (1 - s_inf)/k_minus`` without
    the 0/0 of ``tau_s`` at ``s_inf = 1``. During a presynaptic spike the relaxation rate reaches
    ``k_minus (1 + e^15)`` (8e4 /ms for glutamate at +40 mV): the network is stiff.

    Synapses of a network with the same presynaptic cell and ``transmitter`` share one state
    ``s`` (it depends only on ``V_pre`` and the kinetics), so they must agree on ``k_minus``,
    ``V_th`` and ``Delta``; ``E_s`` and ``g`` are per synapse. Build the published types with
    :meth:`glutamatergic` and :meth:`cholinergic`.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    g: jnp.ndarray = parameter(0.0, "nS", "maximal synaptic conductance (total, not per area)", minimum=0.0)
    E_s: jnp.ndarray = parameter(-70.0, "mV", "synaptic reversal potential")
    k_minus: jnp.ndarray = parameter(1.0 / 40.0, "1/ms", "unbinding (closing) rate", positive=True)
    V_th: jnp.ndarray = parameter(-35.0, "mV", "half-activation presynaptic voltage")
    Delta: jnp.ndarray = parameter(5.0, "mV", "slope of the activation", positive=True)
    transmitter: str = eqx.field(static=True, default="glutamate")

    def __check_init__(self):
        check_parameters(self)

    @classmethod
    def glutamatergic(cls, pre: str, post: str, g=0.0, **kwargs):
        """Glutamatergic synapse (from AB, LP or PY): ``E_s = -70 mV``, ``k_minus = 1/40 /ms``."""
        return cls(pre=pre, post=post, g=g, **{**TRANSMITTERS["glutamate"], **kwargs}, transmitter="glutamate")

    @classmethod
    def cholinergic(cls, pre: str, post: str, g=0.0, **kwargs):
        """Cholinergic synapse (from PD): ``E_s = -80 mV``, ``k_minus = 1/100 /ms``."""
        return cls(pre=pre, post=post, g=g, **{**TRANSMITTERS["acetylcholine"], **kwargs}, transmitter="acetylcholine")

    def rates(self, V_pre):
        """``(A, B)`` of ``ds/dt = A - B s``: ``A = k_minus e``, ``B = k_minus (1 + e)`` with
        ``e = exp((V_pre - V_th)/Delta)`` (1/ms)."""
        e = jnp.exp((V_pre - self.V_th) / self.Delta)
        return self.k_minus * e, self.k_minus * (1.0 + e)

    def s_inf(self, V_pre):
        """Steady-state activation at presynaptic voltage ``V_pre`` (mV)."""
        return 1.0 / (1.0 + jnp.exp((self.V_th - V_pre) / self.Delta))

    def current(self, s, V_post):
        """Synaptic current (pA, outward positive; ``g`` in nS, V in mV)."""
        return self.g * s * (V_post - self.E_s)


class GapJunction(eqx.Module):
    """Electrical coupling between cells ``a`` and ``b`` (cell names of the network).

    The current into ``b`` is ``g (V_a - V_b)`` (pA, ``g`` in nS) and the current into ``a`` its
    opposite. ``rectifying=True``: current flows only from ``a`` to ``b`` (while ``V_a > V_b``),
    as in a rectifying electrical synapse; otherwise the junction is ohmic and symmetric.
    """

    a: str = eqx.field(static=True)
    b: str = eqx.field(static=True)
    g: jnp.ndarray = parameter(0.0, "nS", "junction conductance (total)", minimum=0.0)
    rectifying: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        check_parameters(self)

    def conductance(self, V_a, V_b):
        """Open conductance (nS): ``g``, or ``g`` where ``V_a > V_b`` and 0 elsewhere when rectifying."""
        if not self.rectifying:
            return self.g
        return jnp.where(V_a > V_b, self.g, 0.0)

    def current_into_b(self, V_a, V_b):
        """Current into cell ``b`` (pA, inward positive): ``g (V_a - V_b)``."""
        return self.conductance(V_a, V_b) * (V_a - V_b)


class ExponentialSynapse(eqx.Module):
    """A spike-driven conductance synapse with an exponential decay, from an integrate-and-fire
    cell ``pre`` (a cell with an :meth:`~jaxneuron.models.interface.AbstractModel.event`) onto
    cell ``post``.

    ``I_s = g s (V_post - E_s)`` (outward positive), ``ds/dt = -s / tau``, and ``s <- s + 1`` at
    each presynaptic spike (applied by the presynaptic cell's event, at the located crossing).
    ``g`` is in the **postsynaptic cell's** conductance unit, with no area conversion: mS/cm^2
    for per-area cells and :class:`~jaxneuron.LIF`, nS for :class:`~jaxneuron.AdEx` (then I_s
    in pA), and for :class:`~jaxneuron.Izhikevich` (no capacitance) 1/ms. Excitatory: ``E_s =
    0 mV``; inhibitory: ``E_s = -80 mV``. Each synapse has its own state ``s``.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    g: jnp.ndarray = parameter(0.0, "postsynaptic conductance unit", "peak conductance per spike", minimum=0.0)
    E_s: jnp.ndarray = parameter(0.0, "mV", "synaptic reversal potential")
    tau: jnp.ndarray = parameter(5.0, "ms", "decay time constant", positive=True)

    def __check_init__(self):
        check_parameters(self)

    @classmethod
    def excitatory(cls, pre: str, post: str, g=0.0, tau=5.0):
        """``E_s = 0 mV`` (AMPA-like), ``tau`` 5 ms by default."""
        return cls(pre=pre, post=post, g=g, E_s=0.0, tau=tau)

    @classmethod
    def inhibitory(cls, pre: str, post: str, g=0.0, tau=10.0):
        """``E_s = -80 mV`` (GABA_A-like), ``tau`` 10 ms by default."""
        return cls(pre=pre, post=post, g=g, E_s=-80.0, tau=tau)
