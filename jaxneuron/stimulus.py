"""Injected-current stimuli: pure callables ``t (ms) -> I (uA/cm^2, inward positive)``.

Every amplitude or time field may be batched (one value per member). A stimulus reports its
discontinuities through :meth:`AbstractStimulus.jump_times` so that adaptive solvers step
exactly onto them instead of smearing the edge.
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax.numpy as jnp

from ._batching import is_concrete

__all__ = ["AbstractStimulus", "Constant", "Step", "PulseTrain", "Sine", "Sampled", "Function", "as_stimulus"]

_FAR = 1e30  # stand-in for an infinite jump time (diffrax needs finite jump times)


def _field(default=None, unit="", doc="", batch=0):
    kw = {} if default is None else {"default": default}
    return eqx.field(converter=lambda x: jnp.asarray(x, dtype=float), metadata={"unit": unit, "doc": doc, "batch": batch}, **kw)


def _finite_or_far(t):
    return jnp.where(jnp.isfinite(t), t, _FAR)


class AbstractStimulus(eqx.Module):
    """Base class: ``__call__(t)`` gives the current density (uA/cm^2) at time ``t`` (ms)."""

    def __call__(self, t):
        raise NotImplementedError

    def jump_times(self):
        """Times (ms) where the current is discontinuous, as a 1-D array, or ``None``."""
        return None


class Constant(AbstractStimulus):
    """Constant current ``amplitude`` (uA/cm^2) for all t."""

    amplitude: jnp.ndarray = _field(unit="uA/cm^2", doc="current density")

    def __call__(self, t):
        return self.amplitude + 0.0 * t


class Step(AbstractStimulus):
    """``amplitude`` (uA/cm^2) for ``t_on <= t < t_off`` (ms), 0 otherwise."""

    amplitude: jnp.ndarray = _field(unit="uA/cm^2", doc="current density during the step")
    t_on: jnp.ndarray = _field(0.0, "ms", "step onset")
    t_off: jnp.ndarray = _field(jnp.inf, "ms", "step offset (inf: never)")

    def __check_init__(self):
        if is_concrete(self.t_on, self.t_off) and not bool(jnp.all(self.t_off > self.t_on)):
            raise ValueError("Step.t_off must be > Step.t_on (ms)")

    def __call__(self, t):
        return jnp.where((t >= self.t_on) & (t < self.t_off), self.amplitude, 0.0)

    def jump_times(self):
        return jnp.stack([_finite_or_far(self.t_on), _finite_or_far(self.t_off)], axis=-1)


class PulseTrain(AbstractStimulus):
    """``n_pulses`` rectangular pulses of ``amplitude`` (uA/cm^2) and ``width`` (ms), one every
    ``period`` (ms), the first at ``t_start`` (ms)."""

    amplitude: jnp.ndarray = _field(unit="uA/cm^2", doc="pulse current density")
    width: jnp.ndarray = _field(unit="ms", doc="pulse duration")
    period: jnp.ndarray = _field(unit="ms", doc="onset-to-onset interval")
    n_pulses: int = eqx.field(static=True, default=1)
    t_start: jnp.ndarray = _field(0.0, "ms", "first pulse onset")

    def __check_init__(self):
        if self.n_pulses < 1:
            raise ValueError(f"PulseTrain.n_pulses must be >= 1, got {self.n_pulses}")

    def __call__(self, t):
        s = t - self.t_start
        k = jnp.floor(s / self.period)
        on = (s >= 0) & (k < self.n_pulses) & (s - k * self.period < self.width)
        return jnp.where(on, self.amplitude, 0.0)

    def jump_times(self):
        k = jnp.arange(self.n_pulses)
        onsets = self.t_start[..., None] + k * self.period[..., None]
        return jnp.concatenate([onsets, onsets + self.width[..., None]], axis=-1)


class Sine(AbstractStimulus):
    """``offset + amplitude * sin(2 pi frequency t / 1000 + phase)`` for ``t >= t_on``, else 0.

    ``amplitude``, ``offset`` in uA/cm^2; ``frequency`` in Hz; ``phase`` in rad; ``t_on`` in ms.
    """

    amplitude: jnp.ndarray = _field(unit="uA/cm^2", doc="sine amplitude")
    frequency: jnp.ndarray = _field(unit="Hz", doc="frequency")
    phase: jnp.ndarray = _field(0.0, "rad", "phase at t = 0")
    offset: jnp.ndarray = _field(0.0, "uA/cm^2", "DC offset")
    t_on: jnp.ndarray = _field(0.0, "ms", "onset")

    def __call__(self, t):
        value = self.offset + self.amplitude * jnp.sin(2e-3 * jnp.pi * self.frequency * t + self.phase)
        return jnp.where(t >= self.t_on, value, 0.0)

    def jump_times(self):
        return _finite_or_far(self.t_on)[..., None]


class Sampled(AbstractStimulus):
    """Linear interpolation of a sampled waveform (held constant outside ``[t[0], t[-1]]``).

    ``t``: strictly increasing sample times (ms), shared by all members, shape ``(n,)``;
    ``values``: current densities (uA/cm^2), shape ``(..., n)`` (leading axes: members).
    """

    t: jnp.ndarray = _field(unit="ms", doc="sample times", batch=None)
    values: jnp.ndarray = _field(unit="uA/cm^2", doc="sampled current density", batch=1)

    def __check_init__(self):
        if self.t.ndim != 1 or self.t.shape[0] < 2:
            raise ValueError(f"Sampled.t must be 1-D with >= 2 samples, got shape {self.t.shape}")
        if self.values.shape[-1:] != self.t.shape:
            raise ValueError(f"Sampled.values must end with the {self.t.shape[0]} samples of t, got shape {self.values.shape}")
        if is_concrete(self.t) and not bool(jnp.all(jnp.diff(self.t) > 0)):
            raise ValueError("Sampled.t must be strictly increasing (ms)")

    def __call__(self, t):
        return jnp.interp(t, self.t, self.values)


class Function(AbstractStimulus):
    """Any JAX-traceable callable ``fn(t) -> I`` (uA/cm^2), shared by all members."""

    fn: Callable

    def __call__(self, t):
        return self.fn(t)


def as_stimulus(stimulus) -> AbstractStimulus | None:
    """Normalise ``None``, a number, an array of per-member amplitudes, a callable or a stimulus."""
    if stimulus is None or isinstance(stimulus, AbstractStimulus):
        return stimulus
    if callable(stimulus):
        return Function(stimulus)
    return Constant(stimulus)
