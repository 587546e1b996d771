"""Fitting losses: functions ``loss(sol) -> scalar`` of ONE member's :class:`~jaxneuron.Solution`.

:func:`jaxneuron.fit` simulates every start as one batch and applies the loss to each member
(``jax.vmap``), so a loss sees ``sol.t (n_times,)`` (ms) and ``sol.V (n_times,)`` (mV; a
network's ``(n_cells, n_times)``), plus ``sol.y_final``, ``sol.status``. Any such callable is a
valid loss (the *user-supplied* loss); this module builds two:

* :func:`trace`: mean squared error (mV^2) against a trace recorded with the same protocol;
* :func:`features`: squared relative errors of activity features, computed by the
  differentiable surrogates of :func:`smooth_features`;
* :func:`rhythm`: errors of the pyloric rhythm's period and phases (a three-cell network).

Every loss must return a scalar per member; :func:`jaxneuron.fit` checks it before fitting.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..analysis.bursts import CLASSIFY_DEFAULTS
from ..analysis.spikes import DEFAULT_THRESHOLD, crossing_times_1d

__all__ = ["trace", "features", "rhythm", "smooth_features", "smooth_rhythm", "TraceLoss", "FeatureLoss", "RhythmLoss",
           "FEATURES", "RHYTHM_FEATURES"]

FEATURES = ("burst_period", "duty_cycle", "spikes_per_burst", "spike_rate")
"""Features a :func:`features` loss can match (names and units as in :class:`jaxneuron.Activity`)."""


class TraceLoss(eqx.Module):
    """Mean squared error (mV^2) between ``sol.V`` and the target ``V`` over the window (see :func:`trace`)."""

    t: jax.Array
    V: jax.Array
    weight: jax.Array

    def residuals(self, sol):
        """``(sol.V - V) sqrt(weight / N)`` flattened (mV): the loss is their sum of squares."""
        d = sol.V - self.V
        n = jnp.sum(self.weight) * (d.size // self.weight.size)
        return (d * jnp.sqrt(self.weight / n)).reshape(-1)

    def __call__(self, sol):
        return jnp.sum(self.residuals(sol) ** 2)

    def check_times(self, ts) -> None:
        """Raise a ValueError unless the protocol's save times ``ts`` (ms) are the target's."""
        ts, t = np.asarray(ts, np.float64), np.asarray(self.t, np.float64)
        if ts.shape != t.shape or not np.allclose(ts, t, rtol=0, atol=1e-9 * max(1.0, float(np.abs(ts).max()))):
            def grid(x):
                return f"{x.size} samples" + (f" from {x[0]:g} to {x[-1]:g} ms" if x.size else "")

            raise ValueError(f"the target's time grid ({grid(t)}) does not match the protocol's save times "
                             f"({grid(ts)}): simulate with the target's t0, t_end, SaveAt(transient, save_dt)")  # fmt: skip


def trace(t, V, window=None) -> TraceLoss:
    """Trace loss: ``mean over the window of (V_model - V_target)^2`` (mV^2).

    ``t`` (ms, ``(n_times,)``) and ``V`` (mV, ``(n_times,)``, or ``(n_cells, n_times)`` for a
    network) are the target, recorded with the protocol of the fit: :func:`jaxneuron.fit` refuses
    a target whose ``t`` is not the protocol's save times. ``window = (start, end)`` (ms) restricts
    the mean to ``start <= t <= end`` (default: every sample). Exactly differentiable (a sum of
    squares of the saved samples).
    """
    t = np.asarray(t, np.float64)
    V = jnp.asarray(V, jnp.float64)
    if t.ndim != 1 or t.size < 1 or V.shape[-1] != t.size or V.ndim not in (1, 2):
        raise ValueError(f"trace: t must be (n_times,) and V (n_times,) or (n_cells, n_times); got {t.shape} and {V.shape}")
    if not np.all(np.isfinite(np.asarray(V))):
        raise ValueError("trace: the target V has non-finite samples")
    w = np.ones(t.shape)
    if window is not None:
        a, b = (float(x) for x in window)
        if not a <= b:
            raise ValueError(f"trace: window (start, end) must have start <= end (ms), got {window}")
        w = ((t >= a) & (t <= b)).astype(np.float64)
        if not w.any():
            raise ValueError(f"trace: window {window} ms holds no sample of t ({t[0]:g} .. {t[-1]:g} ms)")
    return TraceLoss(t=jnp.asarray(t), V=V, weight=jnp.asarray(w))


def _segmentation_threshold(isi, isi_ok):
    """The Prinz ISI threshold of :func:`jaxneuron.activity` (rule 3), on stop-gradient values."""
    c = CLASSIFY_DEFAULTS
    imax = jnp.max(jnp.where(isi_ok, isi, -jnp.inf))
    imin = jnp.min(jnp.where(isi_ok, isi, jnp.inf))
    imean = jnp.sum(jnp.where(isi_ok, isi, 0.0)) / jnp.maximum(jnp.sum(isi_ok), 1)
    modulated = imax < c["modulation_ratio"] * imin
    theta = jnp.where(modulated, c["modulated_fraction"] * imax,
                      jnp.where(c["largest_fraction"] * imax > c["mean_factor"] * imean, c["largest_fraction"] * imax, imean))  # fmt: skip
    return jnp.minimum(theta, c["max_burst_isi"])


def smooth_features(t, v, *, threshold: float = DEFAULT_THRESHOLD, softness: float = 2.0, max_spikes: int = 1024) -> dict:
    """Differentiable surrogates of the activity features of one trace ``v`` (mV, ``(n_times,)``)
    sampled at ``t`` (ms). Returns ``{name: scalar}`` for :data:`FEATURES` (NaN where undefined).

    Spikes are the upward crossings of ``threshold`` of :func:`jaxneuron.spike_times`, their
    times linearly interpolated between samples: continuous, piecewise-smooth functions of the
    samples (the crossing segment changes where a sample equals ``threshold``, and the two
    interpolants agree there). Bursts are segmented as :func:`jaxneuron.activity` does (the
    Prinz ISI threshold ``theta`` and its complete-burst rule), on ``stop_gradient`` values: the
    discrete choices carry no gradient, the times do.

    * ``burst_period`` (ms): mean start-to-start interval of consecutive complete bursts,
      ``(start_last - start_first) / (n_complete - 1)``; ``duty_cycle``: mean complete-burst
      duration (first to last spike) / period. **Equal to** :func:`jaxneuron.activity`'s values
      (same crossings, same segmentation) whenever that labels the trace bursting; defined
      (not NaN) for any train with >= 2 complete bursts.
    * ``spikes_per_burst``: the mean over complete bursts of a *soft count*
      ``sum_i relu(s[i+1] - s[i])``, ``s = sigmoid((V - threshold) / softness)``, over
      ``[start - theta/2, end + theta/2]``. A spike rising from ``V_lo`` to a peak ``V_hi``
      counts ``s(V_hi) - s(V_lo)``: within ``2 exp(-10)`` (1e-4) of 1 when both are
      ``>= 10 softness`` (20 mV) from the threshold, so the surrogate is within 1e-3 spikes of
      the exact mean for such spikes, and a spike whose peak approaches the threshold counts
      fractionally (the gradient that lets a fit add or remove one).
    * ``spike_rate`` (Hz), where :func:`jaxneuron.activity` gives ``1000 n / T`` (``T``: the
      window), which jumps whenever a spike enters or leaves the window: with >= 2 complete
      bursts ``1000 spikes_per_burst / burst_period`` (whole periods), else ``1000 (n - 1) /
      (t_n - t_1)`` (the rate over the span of the train). For a periodic tonic train of ``n``
      spikes the two differ by at most ``1 / (n - 1)`` (relative); for a burster by at most one
      burst's spikes, ``spikes_per_burst / n`` (the window's edges cut bursts).
    """
    t = jnp.asarray(t)
    v = jnp.asarray(v, t.dtype)
    nan = jnp.asarray(jnp.nan, t.dtype)
    K = max_spikes
    times, count = crossing_times_1d(t, v, threshold, K)
    n = jnp.minimum(count, K)
    overflow = count > K
    sg = jax.lax.stop_gradient
    safe = jnp.where(jnp.isnan(times), t[0], times)  # NaN padding out of every differentiable path

    # --- burst segmentation, choices on stop-gradient times (as jaxneuron.activity) ------------
    isi_ok = jnp.arange(K - 1) < n - 1
    isi = sg(safe[1:] - safe[:-1])
    theta = _segmentation_threshold(isi, isi_ok)
    ibi = isi_ok & (isi > theta)
    seg = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(ibi, dtype=jnp.int32)])
    valid = jnp.arange(K) < n
    n_seg = jnp.where(n > 0, seg[jnp.maximum(n - 1, 0)] + 1, 0)
    is_start = valid & jnp.concatenate([jnp.ones(1, bool), ibi])
    is_end = (valid & jnp.concatenate([ibi, jnp.zeros(1, bool)])) | (jnp.arange(K) == n - 1)
    b_start = jnp.zeros(K, t.dtype).at[jnp.where(is_start, seg, K)].set(safe, mode="drop")
    b_end = jnp.zeros(K, t.dtype).at[jnp.where(is_end, seg, K)].set(safe, mode="drop")
    lead, trail = sg(safe[0] - t[0]), sg(t[-1] - safe[jnp.maximum(n - 1, 0)])
    s0 = jnp.where(lead > theta, 0, 1)
    s1 = jnp.where(trail > theta, n_seg - 1, n_seg - 2)
    n_complete = jnp.where(n >= 2, jnp.maximum(s1 - s0 + 1, 0), 0)
    complete = (jnp.arange(K) >= s0) & (jnp.arange(K) <= s1)
    ok = (n_complete >= 2) & ~overflow
    nc = jnp.maximum(n_complete, 1)

    period = (b_start[jnp.clip(s1, 0, K - 1)] - b_start[jnp.clip(s0, 0, K - 1)]) / jnp.maximum(n_complete - 1, 1)
    duration = jnp.sum(jnp.where(complete, b_end - b_start, 0.0)) / nc
    period_safe = jnp.where(ok, period, 1.0)

    # --- soft spike count over each complete burst, +- theta/2 ----------------------------------
    s = jax.nn.sigmoid((v - threshold) / softness)
    cum = jnp.concatenate([jnp.zeros(1, t.dtype), jnp.cumsum(jax.nn.relu(s[1:] - s[:-1]))])
    margin = 0.5 * theta
    lo = jnp.where(complete, sg(b_start) - margin, t[0])
    hi = jnp.where(complete, sg(b_end) + margin, t[0])
    soft = jnp.sum(jnp.interp(hi, t, cum) - jnp.interp(lo, t, cum))

    span = safe[jnp.maximum(n - 1, 0)] - safe[0]
    rate_ok = (n >= 2) & ~overflow & (span > 0)
    return dict(
        burst_period=jnp.where(ok, period, nan),
        duty_cycle=jnp.where(ok, duration / period_safe, nan),
        spikes_per_burst=jnp.where(ok, soft / nc, nan),
        spike_rate=jnp.where(ok, 1000.0 * soft / nc / period_safe,
                             jnp.where(rate_ok, 1000.0 * (n - 1) / jnp.where(rate_ok, span, 1.0), nan)),
    )


class FeatureLoss(eqx.Module):
    """``sum_f weight_f ((feature_f - target_f) / target_f)^2`` over the named features (see :func:`features`)."""

    target: dict
    weights: dict
    threshold: float = eqx.field(static=True)
    softness: float = eqx.field(static=True)
    max_spikes: int = eqx.field(static=True)
    cell: int | None = eqx.field(static=True)

    def values(self, sol) -> dict:
        """The surrogate features (:func:`smooth_features`) of ``sol``'s trace."""
        v = sol.V if self.cell is None else sol.V[self.cell]
        if v.ndim != 1:
            raise ValueError(f"features loss: the model has {v.shape[0]} voltages; choose one with cell=...")
        return smooth_features(sol.t, v, threshold=self.threshold, softness=self.softness, max_spikes=self.max_spikes)

    def residuals(self, sol):
        """``sqrt(weight_f) (feature_f - target_f) / target_f`` per feature: the loss is their sum of squares."""
        f = self.values(sol)
        return jnp.stack([math.sqrt(self.weights[k]) * (f[k] - self.target[k]) / self.target[k] for k in self.target])

    def __call__(self, sol):
        return jnp.sum(self.residuals(sol) ** 2)

    def check_times(self, ts) -> None:
        if len(ts) < 2:
            raise ValueError("features loss: the protocol saves no trace; use SaveAt(states='V')")


def features(target: dict, weights: dict | None = None, *, threshold: float = DEFAULT_THRESHOLD, softness: float = 2.0,
             max_spikes: int = 1024, cell: int | None = None) -> FeatureLoss:  # fmt: skip
    """Feature loss: ``sum_f weights[f] * ((surrogate_f - target[f]) / target[f])^2``.

    ``target``: ``{name: value}`` for names in :data:`FEATURES` (``burst_period`` ms,
    ``duty_cycle``, ``spikes_per_burst``, ``spike_rate`` Hz: as :func:`jaxneuron.activity`
    reports them), each finite and non-zero; ``weights``: ``{name: w >= 0}`` (default 1 each).
    Surrogates: :func:`smooth_features` (``threshold`` mV, ``softness`` mV, ``max_spikes``). The
    analysed window is the saved trace (set ``SaveAt(transient=...)``). ``cell``: which voltage of
    a multi-cell model. NaN (the start is flagged by :func:`jaxneuron.fit`) when a burst feature
    is asked of a trace with fewer than 2 complete bursts, or more than ``max_spikes`` spikes.
    """
    if not isinstance(target, dict) or not target:
        raise ValueError(f"features: target must be a non-empty dict {{name: value}} with names in {FEATURES}")
    unknown = [k for k in target if k not in FEATURES]
    if unknown:
        raise ValueError(f"features: unknown feature(s) {unknown}; valid: {list(FEATURES)}")
    for k, x in target.items():
        if not (isinstance(x, (int, float, np.floating, np.integer)) and math.isfinite(x) and x != 0):
            raise ValueError(f"features: target[{k!r}] must be a finite non-zero number, got {x!r}")
    weights = {k: 1.0 for k in target} if weights is None else dict(weights)
    extra = [k for k in weights if k not in target]
    if extra:
        raise ValueError(f"features: weights given for {extra}, which are not in the target {list(target)}")
    for k in target:
        w = weights.setdefault(k, 1.0)
        if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
            raise ValueError(f"features: weights[{k!r}] must be a finite number >= 0, got {w!r}")
    if not (softness > 0 and isinstance(max_spikes, int) and max_spikes >= 2):
        raise ValueError(f"features: softness (mV) must be > 0 and max_spikes an integer >= 2; got {softness}, {max_spikes}")
    return FeatureLoss(target={k: float(x) for k, x in target.items()}, weights={k: float(weights[k]) for k in target},
                       threshold=float(threshold), softness=float(softness), max_spikes=max_spikes, cell=cell)  # fmt: skip


RHYTHM_FEATURES = {"cycle_period": 1, "start_phases": 2, "duty_cycles": 3, "phase_gaps": 2}
"""Rhythm features a :func:`rhythm` loss can match, with their sizes (as :class:`jaxneuron.Rhythm`)."""


def smooth_rhythm(t, V, *, threshold: float = DEFAULT_THRESHOLD, max_spikes: int = 1024, **options) -> dict:
    """The pyloric rhythm features of :func:`jaxneuron.rhythm_from_spikes` (spec 3.6) of one
    circuit's traces ``V (3, n_times)`` (AB/PD, LP, PY, mV) at ``t`` (ms), as differentiable
    functions of the samples: the spikes are the trace's threshold crossings with linearly
    interpolated times (:func:`jaxneuron.spike_times`), and every feature is a selection and an
    arithmetic mean of those times (burst starts, ends, the period), so where the selections do
    not change (no spike, burst or period gained or lost) the features move smoothly and their
    derivative is exact. Values equal :func:`jaxneuron.rhythm_from_spikes` on the same spike
    times; ``options``: its criteria (:data:`jaxneuron.RHYTHM_DEFAULTS`)."""
    from ..analysis.rhythm import RHYTHM_DEFAULTS, _rhythm_one

    times, count = jax.vmap(lambda v: crossing_times_1d(t, v, threshold, max_spikes))(V)
    safe = jnp.where(jnp.isnan(times), jnp.inf, times)  # padding past every window, out of the arithmetic
    return _rhythm_one(safe, count, t[0], t[-1], **{**RHYTHM_DEFAULTS, **options})


class RhythmLoss(eqx.Module):
    """``sum_f weight_f * sum_i err_{f,i}^2``: ``err = (T - T*) / T*`` for the cycle period,
    ``value - target`` for the phases and duty cycles (see :func:`rhythm`)."""

    target: dict
    weights: dict
    threshold: float = eqx.field(static=True)
    max_spikes: int = eqx.field(static=True)

    def values(self, sol) -> dict:
        """The rhythm features (:func:`smooth_rhythm`) of ``sol``'s three traces."""
        if sol.V.ndim != 2 or sol.V.shape[0] != 3:
            raise ValueError(f"rhythm loss: needs the three voltages of a pyloric circuit, got V of shape {sol.V.shape}")
        return smooth_rhythm(sol.t, sol.V, threshold=self.threshold, max_spikes=self.max_spikes)

    def residuals(self, sol):
        f = self.values(sol)
        out = []
        for k, target in self.target.items():
            value = jnp.reshape(f[k], (-1,))
            err = (value - target) / target if k == "cycle_period" else value - target
            out.append(math.sqrt(self.weights[k]) * err)
        return jnp.concatenate(out)

    def __call__(self, sol):
        return jnp.sum(self.residuals(sol) ** 2)

    def check_times(self, ts) -> None:
        if len(ts) < 2:
            raise ValueError("rhythm loss: the protocol saves no trace; use SaveAt(states='V')")


def rhythm(target: dict, weights: dict | None = None, *, threshold: float = DEFAULT_THRESHOLD,
           max_spikes: int = 1024) -> RhythmLoss:  # fmt: skip
    """Rhythm loss of a Prinz 2004 pyloric circuit (:class:`jaxneuron.Pyloric2004`).

    ``target``: ``{name: value}`` with names of :data:`RHYTHM_FEATURES` as :class:`jaxneuron.Rhythm`
    gives them: ``cycle_period`` (ms, relative error), ``start_phases`` (LP, PY), ``duty_cycles``
    (AB/PD, LP, PY), ``phase_gaps`` (AB/PD->LP, LP->PY) (absolute errors). The features come from
    :func:`smooth_rhythm` on the saved traces (set ``SaveAt(transient=...)``); a circuit that is
    not triphasic has NaN phases (the start is flagged by :func:`jaxneuron.fit`)."""
    if not isinstance(target, dict) or not target:
        raise ValueError(f"rhythm: target must be a non-empty dict {{name: value}} with names in {list(RHYTHM_FEATURES)}")
    out = {}
    for k, x in target.items():
        if k not in RHYTHM_FEATURES:
            raise ValueError(f"rhythm: unknown feature {k!r}; valid: {list(RHYTHM_FEATURES)}")
        arr = np.atleast_1d(np.asarray(x, np.float64))
        if arr.shape != (RHYTHM_FEATURES[k],) or not np.all(np.isfinite(arr)) or (k == "cycle_period" and arr[0] <= 0):
            raise ValueError(f"rhythm: target[{k!r}] must be {RHYTHM_FEATURES[k]} finite number(s)"
                             f"{' > 0 (ms)' if k == 'cycle_period' else ''}, got {x!r}")  # fmt: skip
        out[k] = tuple(float(v) for v in arr)
    weights = {k: 1.0 for k in out} if weights is None else dict(weights)
    for k in weights:
        if k not in out or not (isinstance(weights[k], (int, float)) and math.isfinite(weights[k]) and weights[k] >= 0):
            raise ValueError(f"rhythm: weights[{k!r}] must be a finite number >= 0 for a feature in the target {list(out)}")
    return RhythmLoss(target={k: jnp.asarray(v) for k, v in out.items()}, weights={k: float(weights.get(k, 1.0)) for k in out},
                      threshold=float(threshold), max_spikes=int(max_spikes))  # fmt: skip
