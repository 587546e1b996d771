"""``activity``: classification (silent / tonic / bursting / irregular / undetermined) and features of voltage traces."""

from __future__ import annotations

import functools
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .bursts import ACTIVITY_LABELS, BURSTING, CLASSIFY_DEFAULTS, UNDETERMINED, classify_spike_train
from .spikes import DEFAULT_MAX_SPIKES, DEFAULT_THRESHOLD, check_trace, crossing_times_1d, map_members

__all__ = ["Activity", "activity", "format_activity", "ACTIVITY_LABELS", "DEFAULT_SLOW_WAVE_WINDOW"]

DEFAULT_SLOW_WAVE_WINDOW = 50.0
"""Width (ms) of the running mean that defines the slow wave."""


class Activity(eqx.Module):
    """Activity features of a batch of traces; every field has the batch shape ``V.shape[:-1]``.

    Fields (NaN where a quantity does not apply, e.g. burst features of a non-bursting cell):

    * ``label`` (int32): 0 silent, 1 tonic, 2 bursting, 3 irregular, 4 undetermined (spikes, but
      the window is too short to decide: simulate a longer window) (:data:`ACTIVITY_LABELS`).
    * ``n_spikes`` (int32): spikes in the window; ``spike_rate`` (Hz): ``n_spikes`` / window.
    * ``isi_mean`` (ms, needs >= 1 ISI), ``isi_cv`` (std/mean with ddof = 0, needs >= 2 ISIs).
    * ``n_bursts`` (int32, complete bursts; 0 unless bursting), ``bursts_per_period`` (int32,
      1-3: bursts in one repeat of the pattern; 0 unless bursting), ``burst_period`` (ms, mean
      start-to-start interval of consecutive bursts), ``burst_duration`` (ms, first to last spike),
      ``duty_cycle`` (duration / period), ``spikes_per_burst`` (mean), ``interburst_interval``
      (ms, mean last spike of a burst to first spike of the next).
    * ``v_min``, ``v_max`` (mV) of the trace; ``slow_wave_amplitude`` (mV): max - min of the
      running mean of ``min(V, threshold)`` over a centred ``slow_wave_window`` (50 ms).
    * flags: ``overflow`` (more than ``max_spikes`` spikes: only the first ``max_spikes`` were
      analysed), ``too_short`` (exactly ``label == 4``, undetermined: the window holds too few
      ISIs or complete bursts to decide; kept as a flag for stored sweeps), ``finite`` (no NaN/inf
      sample).
    """

    label: jax.Array
    n_spikes: jax.Array
    spike_rate: jax.Array
    isi_mean: jax.Array
    isi_cv: jax.Array
    n_bursts: jax.Array
    bursts_per_period: jax.Array
    burst_period: jax.Array
    burst_duration: jax.Array
    duty_cycle: jax.Array
    spikes_per_burst: jax.Array
    interburst_interval: jax.Array
    v_min: jax.Array
    v_max: jax.Array
    slow_wave_amplitude: jax.Array
    overflow: jax.Array
    too_short: jax.Array
    finite: jax.Array

    feature_names: ClassVar[tuple[str, ...]] = (
        "label", "n_spikes", "spike_rate", "isi_mean", "isi_cv", "n_bursts", "bursts_per_period", "burst_period",
        "burst_duration", "duty_cycle", "spikes_per_burst", "interburst_interval", "v_min", "v_max",
        "slow_wave_amplitude", "overflow", "too_short", "finite",
    )  # fmt: skip
    """Every field, in order: a sweep engine can store ``getattr(act, name)`` for each."""
    units: ClassVar[dict[str, str]] = {
        "spike_rate": "Hz", "isi_mean": "ms", "burst_period": "ms", "burst_duration": "ms",
        "interburst_interval": "ms", "v_min": "mV", "v_max": "mV", "slow_wave_amplitude": "mV",
    }  # fmt: skip
    """Units of the dimensional fields (the others are counts, ratios, labels or flags)."""

    @property
    def label_name(self):
        """The label as a string (scalar Activity) or a numpy array of strings."""
        names = np.asarray(ACTIVITY_LABELS)[np.asarray(self.label)]
        return str(names) if names.ndim == 0 else names


def _slow_wave_offset(t, window):
    """Half-width ``h`` (samples) of the slow-wave window: ``round(window / (2 dt))`` with the mean
    sampling step ``dt = (t[-1] - t[0]) / (n_times - 1)``. Shared by all members."""
    dt = (t[-1] - t[0]) / (t.shape[0] - 1)
    return jnp.round(window / (2 * dt)).astype(jnp.int32)


def _slow_wave_amplitude(t, v, threshold, h):
    """max - min over i of the trapezoid mean of ``min(v, threshold)`` over samples ``[i - h, i + h]``
    (only where the window fits in the trace). Shifts instead of gathers: cheap on every backend."""
    vc = jnp.minimum(v, threshold)
    area = jnp.concatenate([jnp.zeros(1, v.dtype), jnp.cumsum(0.5 * (vc[1:] + vc[:-1]) * jnp.diff(t))])
    mean = (jnp.roll(area, -h) - jnp.roll(area, h)) / (jnp.roll(t, -h) - jnp.roll(t, h))
    i = jnp.arange(t.shape[0])
    ok = (i >= h) & (i + h <= t.shape[0] - 1) & (h >= 1)
    amp = jnp.max(jnp.where(ok, mean, -jnp.inf)) - jnp.min(jnp.where(ok, mean, jnp.inf))
    return jnp.where(jnp.any(ok), amp, jnp.nan)


def activity(t, V, *, threshold: float = DEFAULT_THRESHOLD, max_spikes: int = DEFAULT_MAX_SPIKES,
             min_spikes: int = 2, min_isis: int = 3, regularity_tol: float = 0.05, modulation_ratio: float = 5.0,
             modulated_fraction: float = 0.99, largest_fraction: float = 0.5, mean_factor: float = 2.0,
             max_burst_isi: float = 500.0, min_bursts: int = 3, min_spikes_per_burst: int = 2,
             max_bursts_per_period: int = 3, periodicity_tol: float = 0.05,
             slow_wave_window: float = DEFAULT_SLOW_WAVE_WINDOW, batch_size: int | None = None) -> Activity:  # fmt: skip
    """Classify traces ``V`` (mV, ``(..., n_times)``) sampled at ``t`` (ms, ``(n_times,)``) and
    measure their features; returns an :class:`Activity` with the batch shape ``V.shape[:-1]``.

    The whole trace is the analysis window (slice off the transient first); ``T = t[-1] - t[0]``.

    **Spikes**: upward crossings of ``threshold`` (-10 mV), ``V[i] < threshold <= V[i+1]``, time
    linearly interpolated. At most ``max_spikes`` (2048) are analysed; beyond that ``overflow``
    is set and the analysed window ends at the last stored spike (``n_spikes`` and
    ``spike_rate`` still count all). ISIs are the differences of consecutive spike times;
    ``lead`` = first spike - ``t[0]``, ``trail`` = ``t[-1]`` - last spike (0 on overflow).

    **Classes** (in this order; spec section 2.8, Prinz criteria with the operational rules):

    1. *silent*: fewer than ``min_spikes`` (2) spikes.
    2. *tonic*: at least ``min_isis`` (3) ISIs, ``(max ISI - min ISI) / mean ISI <
       regularity_tol`` (5 %), and ``lead`` and ``trail`` both ``<= (1 + regularity_tol) * max
       ISI`` (the cell fires through the whole window).
    3. *burst segmentation* (Prinz): the train is *modulated tonic* if ``max ISI <
       modulation_ratio (5) * min ISI``. Segmentation threshold ``theta`` = ``modulated_fraction``
       (0.99) * max ISI if modulated tonic; else ``largest_fraction`` (0.5) * max ISI if that
       exceeds ``mean_factor`` (2) * mean ISI; else the mean ISI; then ``theta = min(theta,
       max_burst_isi)`` (500 ms). ISIs ``> theta`` are interburst intervals; a burst is a maximal
       run of spikes between them. The first burst is *complete* only if ``lead > theta``, the
       last only if ``trail > theta``; all others are complete. Only complete bursts are used.
    4. *bursting*: not tonic; at least ``min_bursts`` (3) complete bursts, each with at least
       ``min_spikes_per_burst`` (2) spikes; *periodic*: for some ``k`` in 1..``max_bursts_per_period``
       (3), the k-burst periods ``start[j+k] - start[j]`` over consecutive complete bursts (at
       least 2 of them) satisfy ``(max - min) / mean < periodicity_tol`` (5 %); the smallest
       such ``k`` is ``bursts_per_period``; and ``lead``, ``trail`` both ``<= (1 +
       periodicity_tol) *`` the largest burst start-to-start interval (it bursts to the end).
    5. *undetermined* (label 4, ``too_short`` set): spiking, neither tonic nor bursting, and the
       window is too short to tell whether a longer one would make it so. Exactly when

       * it has fewer than ``min_isis`` (3) ISIs (regularity untestable); or
       * it is modulated tonic (``max ISI < modulation_ratio (5) * min ISI``) but ``lead`` or
         ``trail`` is ``>= modulation_ratio * min ISI``: the window holds a single episode of
         firing between long silences (e.g. one burst, or firing that starts or stops); or
       * it is not modulated tonic (long silences between spikes) and either (a) has fewer than
         ``min_bursts`` (3) complete bursts, or (b) passes every other bursting test (each
         complete burst has ``min_spikes_per_burst`` spikes, ``lead`` and ``trail`` within the
         bounds of rule 4) but no testable k-burst period is periodic and it has fewer than
         ``max_bursts_per_period + 2`` (5) complete bursts, so some k-burst pattern (k = 2 or 3)
         had fewer than 2 periods to compare.

       A regular burster is thus undetermined, never irregular, until the window holds
       ``min_bursts`` complete bursts (a window of 5 periods always suffices, whatever its phase;
       a 3-burst pattern needs 5 complete bursts, i.e. up to 7 bursts). Modulated-tonic trains that fire through the window are
       decided once they have ``min_isis`` ISIs: their bursts are split at near-maximal ISIs,
       whose number need not grow with the window, so waiting for ``min_bursts`` of them could
       leave an irregular cell undetermined at any window length (a periodic modulated pattern,
       e.g. doublets, needs a window of at least 3 of its periods to be called bursting rather
       than irregular). A cell that fires only near one end of the window is undetermined at any
       window length: its transient was too short, or its period is longer than the window.
    6. *irregular* (label 3): everything else that spikes, i.e. a window long enough by the rules
       above, and the train is neither tonic nor bursting.

    **Features**: see :class:`Activity`. Burst features are reported for bursting cells only
    (NaN otherwise) and are means over the complete bursts. ``slow_wave_amplitude`` is the max -
    min over ``i`` of the running mean (trapezoid rule) of ``min(V, threshold)`` over the samples
    ``[i - h, i + h]``, ``h = round(slow_wave_window / (2 dt))``, ``dt = T / (n_times - 1)``
    (uniform sampling assumed; only where the window fits in the trace); it also measures
    subthreshold oscillations of silent cells.

    Pure, jit/vmap-able (options must be Python numbers); ``batch_size`` members are analysed at
    once (default: blocks of about 2**24 samples), so memory stays below the size of ``V``.
    """
    if not (isinstance(max_spikes, int) and max_spikes >= 2):
        raise ValueError(f"max_spikes must be an integer >= 2, got {max_spikes!r}")
    if not (isinstance(max_bursts_per_period, int) and max_bursts_per_period >= 1):
        raise ValueError(f"max_bursts_per_period must be a positive integer, got {max_bursts_per_period!r}")
    t, V = check_trace(t, V)
    classify = dict(
        min_spikes=min_spikes, min_isis=min_isis, regularity_tol=regularity_tol, modulation_ratio=modulation_ratio,
        modulated_fraction=modulated_fraction, largest_fraction=largest_fraction, mean_factor=mean_factor,
        max_burst_isi=max_burst_isi, min_bursts=min_bursts, min_spikes_per_burst=min_spikes_per_burst,
        max_bursts_per_period=max_bursts_per_period, periodicity_tol=periodicity_tol,
    )  # fmt: skip
    assert set(classify) == set(CLASSIFY_DEFAULTS)
    return _activity(t, V, threshold=threshold, max_spikes=max_spikes, slow_wave_window=slow_wave_window,
                     batch_size=batch_size, classify=tuple(sorted(classify.items())))  # fmt: skip


@functools.partial(jax.jit, static_argnames=("threshold", "max_spikes", "slow_wave_window", "batch_size", "classify"))
def _activity(t, V, *, threshold, max_spikes, slow_wave_window, batch_size, classify):
    options = dict(classify)
    duration = t[-1] - t[0]
    h = _slow_wave_offset(t, slow_wave_window)

    def one(v):
        v = v.astype(t.dtype)
        times, count = crossing_times_1d(t, v, threshold, max_spikes)
        out = classify_spike_train(times, count, t[0], t[-1], **options)
        out.update(
            n_spikes=count,
            spike_rate=count.astype(t.dtype) / duration * 1000.0,
            v_min=jnp.min(v),
            v_max=jnp.max(v),
            slow_wave_amplitude=_slow_wave_amplitude(t, v, threshold, h),
            finite=jnp.all(jnp.isfinite(v)),
        )
        return out

    out = map_members(one, V, batch_size)
    return Activity(**{name: out[name] for name in Activity.feature_names})


def _fmt(x, unit="", digits=4):
    x = float(x)
    if not np.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}{' ' + unit if unit else ''}"


def _format_one(a: Activity) -> str:
    label = ACTIVITY_LABELS[int(a.label)]
    if int(a.label) == UNDETERMINED:
        label += f" ({_undetermined_reason(a)})"
    flags = [name for name in ("overflow",) if bool(getattr(a, name))]
    if bool(a.too_short) and int(a.label) != UNDETERMINED:  # not produced by activity(); shown if set
        flags.append("too_short")
    if not bool(a.finite):
        flags.append("non-finite trace")
    lines = [f"activity: {label}" + (f"  [{', '.join(flags)}]" if flags else "")]
    lines.append(f"  spikes: {int(a.n_spikes)} ({_fmt(a.spike_rate, 'Hz')}); ISI mean {_fmt(a.isi_mean, 'ms')}, CV {_fmt(a.isi_cv)}")
    if int(a.label) == BURSTING:
        lines.append(
            f"  bursts: {int(a.n_bursts)} complete, period {_fmt(a.burst_period, 'ms')}"
            + (f" ({int(a.bursts_per_period)} bursts per pattern)" if int(a.bursts_per_period) > 1 else "")
            + f", duration {_fmt(a.burst_duration, 'ms')}, duty cycle {_fmt(a.duty_cycle, digits=3)}"
        )
        lines.append(f"          {_fmt(a.spikes_per_burst)} spikes per burst, interburst interval {_fmt(a.interburst_interval, 'ms')}")
    lines.append(f"  V range: {_fmt(a.v_min, 'mV')} .. {_fmt(a.v_max, 'mV')}; slow-wave amplitude {_fmt(a.slow_wave_amplitude, 'mV')}")
    return "\n".join(lines)


def _undetermined_reason(a: Activity) -> str:
    """Why an undetermined cell could not be classified (default thresholds assumed in the text)."""
    n = int(a.n_spikes)
    rate = float(a.spike_rate)
    window = f" in {n / rate:.3g} s" if rate > 0 else ""
    d = CLASSIFY_DEFAULTS
    if n - 1 < d["min_isis"]:
        why = f"{n} spikes{window}, fewer than {d['min_isis'] + 1} needed to test regularity"
    else:
        why = (f"{n} spikes{window} with long silences: fewer than {d['min_bursts']} complete bursts "
               f"({d['max_bursts_per_period'] + 2} for 2- and 3-burst patterns) to test periodicity")  # fmt: skip
    return f"window too short: {why}; make the window longer, >= 4-6 burst periods after the transient"


def format_activity(act: Activity) -> str:
    """Human-readable multi-line summary of an :class:`Activity` (one block per member for small
    batches, a label count for large ones). An undetermined cell reads ``undetermined (window too
    short: ...; make the window longer, ...)``."""
    label = np.asarray(act.label)
    if label.ndim == 0:
        return _format_one(act)
    flat = jax.tree_util.tree_map(lambda x: np.asarray(x).reshape(-1), act)
    n = label.size
    counts = np.bincount(label.reshape(-1), minlength=len(ACTIVITY_LABELS))
    head = f"{n} traces: " + ", ".join(f"{c} {name}" for name, c in zip(ACTIVITY_LABELS, counts))
    if n > 8:
        if counts[UNDETERMINED]:
            head += "\n(undetermined: window too short to classify them; make the window longer)"
        return head
    blocks = [head]
    for i in range(n):
        one = jax.tree_util.tree_map(lambda x: x[i], flat)
        index = ", ".join(str(int(j)) for j in np.unravel_index(i, label.shape))
        blocks.append(f"[{index}] " + _format_one(one))
    return "\n".join(blocks)
