"""Firing patterns of a response to a current step: silent, tonic, adapting, bursting, irregular, transient.

The Prinz-lab classification (:func:`jaxneuron.activity`) labels *steady* activity; a response
to a step onset also has a transient: spike-frequency adaptation, an initial burst. This follows
the two-stage scheme of Naud, Marcille, Clopath & Gerstner (2008, Biol Cybern 99:335, "Firing
patterns in the adaptive exponential integrate-and-fire model"): the steady state is the second
half of the window, classified with the Prinz rules; the transient is the ratio of the last to
the first inter-spike interval. Rules, in order, over the window ``[t0 + transient, t_end]``:

* ``silent``: fewer than 3 spikes in the window;
* ``transient``: spikes, but fewer than 2 in the window's second half (firing stops);
* ``bursting`` / ``irregular``: the second half's Prinz label (:func:`classify_spike_train`);
  a second half too short for the Prinz rules to decide is ``irregular`` if its ISIs' CV
  exceeds 0.2;
* ``adapting``: otherwise, if ``last ISI / first ISI >= adaptation_ratio`` (default 1.5; an
  initial burst followed by tonic spikes counts as adapting);
* ``tonic``: otherwise.

Fixed-size and jit-able (the NaN-padded spike buffers of :func:`jaxneuron.simulate`).
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp

from .bursts import BURSTING, CLASSIFY_DEFAULTS, IRREGULAR, UNDETERMINED, classify_spike_train

__all__ = ["FIRING_PATTERNS", "PATTERN_FEATURES", "FiringPattern", "firing_pattern", "firing_pattern_of_spikes", "patterns_of"]

FIRING_PATTERNS = ("silent", "tonic", "adapting", "bursting", "irregular", "transient")
"""Names of :attr:`FiringPattern.pattern`, by index."""
SILENT, TONIC, ADAPTING, BURSTING_P, IRREGULAR_P, TRANSIENT = range(6)
PATTERN_FEATURES = ("pattern", "adaptation")
"""The :class:`FiringPattern` fields a sweep may store (``[features] names``)."""


class FiringPattern(eqx.Module):
    """Per member: ``pattern`` (int32, index into :data:`FIRING_PATTERNS`) and ``adaptation``
    (last ISI / first ISI in the window; NaN with fewer than 2 ISIs)."""

    pattern: jax.Array
    adaptation: jax.Array

    @property
    def pattern_name(self):
        import numpy as np

        names = np.asarray(FIRING_PATTERNS)[np.asarray(self.pattern)]
        return str(names) if names.ndim == 0 else names


def firing_pattern_of_spikes(times, count, t_first, t_last, *, adaptation_ratio=1.5, irregular_cv=0.2):
    """Pattern and adaptation of one spike train: ``times`` ``(K,)`` (ms, NaN-padded, in the
    window), ``count`` spikes in the window (may exceed K: the late half is then unknown and the
    train is classified by its stored spikes), window ``[t_first, t_last]`` (ms)."""
    K = times.shape[0]
    n = jnp.minimum(count, K)
    isi = times[1:] - times[:-1]
    n_isi = jnp.maximum(n - 1, 0)
    first_isi = isi[0]
    last_isi = isi[jnp.clip(n_isi - 1, 0, K - 2)]
    adaptation = jnp.where(n_isi >= 2, last_isi / first_isi, jnp.nan)
    t_mid = 0.5 * (t_first + t_last)
    late = jnp.isfinite(times) & (times >= t_mid) & (jnp.arange(K) < n)
    late_times = jnp.sort(jnp.where(late, times, jnp.nan))  # NaNs sort last
    n_late = jnp.sum(late).astype(count.dtype)
    late_train = classify_spike_train(late_times, n_late, t_mid, t_last, **CLASSIFY_DEFAULTS)
    steady = late_train["label"]
    # a train the Prinz rules leave undetermined (too few ISIs or bursts) is irregular when its ISIs vary
    steady = jnp.where((steady == UNDETERMINED) & (late_train["isi_cv"] > irregular_cv), IRREGULAR, steady)
    pattern = jnp.where(
        n < 3, SILENT, jnp.where(
            n_late < 2, TRANSIENT, jnp.where(
                steady == BURSTING, BURSTING_P, jnp.where(
                    steady == IRREGULAR, IRREGULAR_P, jnp.where(adaptation >= adaptation_ratio, ADAPTING, TONIC)))))  # fmt: skip
    return pattern.astype(jnp.int32), adaptation


def firing_pattern(sol, *, adaptation_ratio: float = 1.5) -> FiringPattern:
    """Firing pattern of each member of a :class:`~jaxneuron.Solution` simulated with
    ``SaveAt(spikes=True)`` (e.g. an integrate-and-fire cell under a step from ``t0``), over its
    window ``[t0 + transient, t_end]``; see the module docstring for the rules."""
    if sol.spike_times is None:
        raise ValueError("firing_pattern needs spike times: simulate with save=jaxneuron.SaveAt(spikes=True, ...)")
    if not adaptation_ratio > 1.0:
        raise ValueError(f"adaptation_ratio must be > 1 (last ISI / first ISI), got {adaptation_ratio!r}")
    batch = sol.n_spikes.shape
    times = sol.spike_times.reshape((-1, sol.spike_times.shape[-1]))
    fp = patterns_of(times, sol.n_spikes.reshape(-1), sol.t0 + sol.transient, sol.t_end, adaptation_ratio)
    return FiringPattern(fp.pattern.reshape(batch), fp.adaptation.reshape(batch))


def patterns_of(times, count, t_first, t_last, adaptation_ratio=1.5) -> FiringPattern:
    """:class:`FiringPattern` of spike buffers ``times`` ``(n, K)`` (ms, NaN-padded) with
    ``count`` ``(n,)`` spikes in the window ``[t_first, t_last]`` (ms)."""
    out = _patterns(times, count, t_first=float(t_first), t_last=float(t_last), ratio=float(adaptation_ratio))
    return FiringPattern(*out)


@functools.partial(jax.jit, static_argnames=("t_first", "t_last", "ratio"))
def _patterns(times, count, *, t_first, t_last, ratio):
    return jax.vmap(lambda tt, c: firing_pattern_of_spikes(tt, c, t_first, t_last, adaptation_ratio=ratio))(times, count)
