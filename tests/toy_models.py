"""Small models written in the tests against the declared model interface only
(:class:`jaxneuron.AbstractModel`), with closed-form solutions: they check that an engine needs
nothing beyond that interface, and give exact references."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

import jaxneuron as jn
from jaxneuron.models.base import parameter


class ToyLIF(jn.AbstractModel):
    """``tau dV/dt = E_L - V + I`` (``I`` in mV: R I), reset to ``V_reset`` when V crosses ``V_th``.

    Closed form from ``V0`` under constant ``I`` (``V_inf = E_L + I > V_th``): first spike at
    ``tau ln((V_inf - V0) / (V_inf - V_th))``, then one every ``tau ln((V_inf - V_reset) / (V_inf - V_th))``."""

    tau: jnp.ndarray = parameter(10.0, "ms", "membrane time constant", positive=True)
    E_L: jnp.ndarray = parameter(-65.0, "mV", "resting potential")
    V_th: jnp.ndarray = parameter(-50.0, "mV", "threshold")
    V_reset: jnp.ndarray = parameter(-70.0, "mV", "reset potential")
    state_names: ClassVar[tuple[str, ...]] = ("V",)
    n_border: ClassVar[int] = 1

    def linear_form(self, y, I_ext):
        A = (self.E_L + I_ext) / self.tau + 0.0 * y[..., 0]
        return A[..., None], jnp.broadcast_to(1.0 / self.tau, A.shape)[..., None]

    def default_y0(self):
        return jnp.array([-65.0])

    def event(self):
        return jn.Event(state=0, threshold=self.V_th, reset=lambda y: y.at[0].set(self.V_reset))


class Blowup(jn.AbstractModel):
    """``dy/dt = a y^2``, ``y(0) = 1``: ``y = 1 / (1 - a t)``, infinite at ``t = 1 / a`` (ms)."""

    a: jnp.ndarray = parameter(1.0, "1/ms", "rate")
    state_names: ClassVar[tuple[str, ...]] = ("V",)
    n_border: ClassVar[int] = 1

    def linear_form(self, y, I_ext):
        return self.a * y * y + 0.0 * I_ext, jnp.zeros_like(y)

    def default_y0(self):
        return jnp.array([1.0])


class TwoLeaky(jn.AbstractModel):
    """Two uncoupled leaky membranes ``tau_i dV_i/dt = E_i - V_i + I`` (both potentials in the
    border, ``voltage_states = (0, 1)``): ``V_i(t) = E_i + I + (V_i(0) - E_i - I) exp(-t / tau_i)``.
    A stand-in for a network's several voltages."""

    tau: jnp.ndarray = parameter(10.0, "ms", "first membrane's time constant", positive=True)
    state_names: ClassVar[tuple[str, ...]] = ("V1", "V2")
    n_border: ClassVar[int] = 2
    voltage_states: ClassVar[tuple[int, ...]] = (0, 1)

    def linear_form(self, y, I_ext):
        rate = jnp.stack([1.0 / self.tau + 0.0 * y[..., 0], jnp.full(y.shape[:-1], 0.25)], axis=-1)
        E = jnp.array([-65.0, -40.0])
        return (E + jnp.asarray(I_ext)[..., None]) * rate, rate

    def default_y0(self):
        return jnp.array([-65.0, -40.0])
