"""Rhythm analysis of the Prinz 2004 three-cell pyloric circuit (AB/PD, LP, PY): spec section 3.6.

The criteria and the 15 default summary features are those of mackelab/pyloric
(``summary_statistics.py``), restated in spec 3.6 and implemented here on fixed-size arrays, so
the whole analysis runs under ``jit`` and ``vmap``: spike times come as NaN-padded ``(..., 3, K)``
buffers (cells in the order AB/PD, LP, PY, spec 3.1), bursts are compacted into ``(K // 2,)``
buffers per cell, and every feature is a masked reduction over them (NaN where it does not apply).

Entry points: :func:`rhythm_from_spikes` (spike-time buffers), :func:`pyloric_features` (voltage
traces: Savitzky-Golay smoothing and peak detection as in spec 3.6) and
:func:`rhythm_from_solution` (the spike times recorded by :func:`jaxneuron.simulate`).
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .spikes import DEFAULT_MAX_SPIKES, DEFAULT_THRESHOLD, check_trace, map_members

__all__ = [
    "Rhythm", "RHYTHM_DEFAULTS", "CELLS", "rhythm_from_spikes", "rhythm_vector", "pyloric_features",
    "rhythm_from_solution", "savgol_matrix",
]  # fmt: skip

CELLS = ("AB/PD", "LP", "PY")
"""Cell order of every per-cell axis (spec 3.1)."""

RHYTHM_DEFAULTS = dict(
    burst_isi=150.0,  # ms: an ISI >= this separates two bursts
    min_burst_duration=40.0,  # ms: a burst is kept if last - first spike > this (single spikes never are)
    triphasic_fraction=0.9,  # fraction of reference periods that must be triphasic
    pyloric_fraction=0.7,  # fraction of triphasic periods that must be in pyloric order
    min_periods=2,  # reference periods (consecutive AB/PD burst starts) needed to call the circuit triphasic
)
"""Rhythm criteria of spec 3.6 (keywords of :func:`rhythm_from_spikes` and the other entry points)."""

SMOOTHING_WINDOW = 0.5
"""Savitzky-Golay window (ms) of :func:`pyloric_features` (spec 3.6)."""


class Rhythm(eqx.Module):
    """Rhythm features of a batch of three-cell circuits; the batch shape comes first.

    Cell axes (size 3) are AB/PD, LP, PY; pair axes (size 2) are AB/PD->LP, LP->PY.

    * ``cycle_period`` (ms): mean difference of consecutive AB/PD burst starts (NaN with fewer
      than 2 AB/PD bursts).
    * ``burst_durations`` (ms, ``(..., 3)``): mean last - first spike over the cell's bursts in the
      window (NaN without bursts). ``duty_cycles`` (``(..., 3)``): burst duration / cycle period,
      computed whether or not the circuit is triphasic.
    * ``n_spikes``, ``n_bursts`` (int32, ``(..., 3)``): spikes in the analysed window (with
      ``overflow``: up to the cut, so at most the buffer size) and bursts kept, per cell.
    * ``start_phases`` (``(..., 2)``): (start_LP - start_ABPD) / T and (start_PY - start_ABPD) / T;
      ``starts_to_starts`` (ms, ``(..., 2)``): start_LP - start_ABPD, start_PY - start_LP;
      ``ends_to_starts`` (ms): start_LP - end_ABPD, start_PY - end_LP; ``phase_gaps`` =
      ``ends_to_starts`` / T. Means over the triphasic reference periods; NaN unless triphasic.
    * ``triphasic``, ``pyloric_like`` (bool): the criteria of :func:`rhythm_from_spikes`.
    * ``n_periods`` (int32): reference periods (AB/PD bursts - 1, at least 0); ``n_triphasic``
      (int32): those in which each cell starts exactly one burst.
    * ``overflow`` (bool): a cell had more spikes than its buffer holds, so the analysis window
      was cut short (see :func:`rhythm_from_spikes`).
    """

    cycle_period: jax.Array
    burst_durations: jax.Array
    duty_cycles: jax.Array
    n_spikes: jax.Array
    n_bursts: jax.Array
    start_phases: jax.Array
    starts_to_starts: jax.Array
    ends_to_starts: jax.Array
    phase_gaps: jax.Array
    triphasic: jax.Array
    pyloric_like: jax.Array
    n_periods: jax.Array
    n_triphasic: jax.Array
    overflow: jax.Array

    feature_names: ClassVar[tuple[str, ...]] = (
        "cycle_period", "burst_durations", "duty_cycles", "n_spikes", "n_bursts", "start_phases", "starts_to_starts",
        "ends_to_starts", "phase_gaps", "triphasic", "pyloric_like", "n_periods", "n_triphasic", "overflow",
    )  # fmt: skip
    """Every field, in order."""
    vector_names: ClassVar[tuple[str, ...]] = (
        "cycle_period", "burst_duration_ABPD", "burst_duration_LP", "burst_duration_PY", "duty_cycle_ABPD",
        "duty_cycle_LP", "duty_cycle_PY", "start_phase_LP", "start_phase_PY", "start_to_start_ABPD_LP",
        "start_to_start_LP_PY", "end_to_start_ABPD_LP", "end_to_start_LP_PY", "phase_gap_ABPD_LP", "phase_gap_LP_PY",
    )  # fmt: skip
    """Names of the 15 entries of :func:`rhythm_vector` (spec 3.6 order)."""
    units: ClassVar[dict[str, str]] = {
        "cycle_period": "ms", "burst_durations": "ms", "starts_to_starts": "ms", "ends_to_starts": "ms",
    }  # fmt: skip
    """Units of the dimensional fields (the others are counts, phases, fractions or flags)."""

    def vector(self):
        """The 15-feature default vector, ``(..., 15)``: see :func:`rhythm_vector`."""
        return rhythm_vector(self)


def rhythm_vector(r: Rhythm):
    """The default feature vector of spec 3.6, ``(..., 15)`` (names: :attr:`Rhythm.vector_names`):
    cycle period (1), burst durations AB/PD, LP, PY (3), duty cycles (3), start phases LP, PY (2),
    starts_to_starts AB/PD->LP, LP->PY (2), ends_to_starts (2), phase gaps (2)."""
    return jnp.concatenate(
        [r.cycle_period[..., None], r.burst_durations, r.duty_cycles, r.start_phases, r.starts_to_starts,
         r.ends_to_starts, r.phase_gaps], axis=-1,
    )  # fmt: skip


# --- one circuit -----------------------------------------------------------------------------------


def _bursts(times, valid, burst_isi, min_burst_duration):
    """Bursts of one cell: ``(starts, ends, n)``, starts/ends ``(max(K // 2, 1),)`` padded with +inf.

    ``valid`` marks the analysed spikes, a contiguous run of the sorted buffer ``times (K,)``. A
    burst is a maximal run of valid spikes whose consecutive ISIs are all < ``burst_isi``; it is
    kept if last - first > ``min_burst_duration`` (so a kept burst has >= 2 spikes: at most K // 2).
    """
    K = times.shape[0]
    B = max(K // 2, 1)
    inf = jnp.asarray(jnp.inf, times.dtype)
    split = times[1:] - times[:-1] >= burst_isi  # between spikes k and k + 1
    prev_valid = jnp.concatenate([jnp.zeros(1, bool), valid[:-1]])
    next_valid = jnp.concatenate([valid[1:], jnp.zeros(1, bool)])
    is_start = valid & (~prev_valid | jnp.concatenate([jnp.ones(1, bool), split]))
    is_end = valid & (~next_valid | jnp.concatenate([split, jnp.ones(1, bool)]))
    seg = jnp.cumsum(is_start, dtype=jnp.int32) - 1  # raw burst index of each spike
    n_raw = jnp.sum(is_start, dtype=jnp.int32)
    raw_start = jnp.full(K, inf).at[jnp.where(is_start, seg, K)].set(times, mode="drop")
    raw_end = jnp.full(K, inf).at[jnp.where(is_end, seg, K)].set(times, mode="drop")
    keep = (jnp.arange(K) < n_raw) & (raw_end - raw_start > min_burst_duration)
    rank = jnp.cumsum(keep, dtype=jnp.int32) - 1  # compaction: kept burst j goes to slot rank[j]
    slot = jnp.where(keep, rank, B)
    starts = jnp.full(B, inf).at[slot].set(raw_start, mode="drop")
    ends = jnp.full(B, inf).at[slot].set(raw_end, mode="drop")
    return starts, ends, jnp.sum(keep, dtype=jnp.int32)


def _masked_mean(x, mask, n):
    return jnp.sum(jnp.where(mask, x, 0.0)) / jnp.maximum(n, 1)


def _rhythm_one(times, count, t_start, t_end, *, burst_isi, min_burst_duration, triphasic_fraction,
                pyloric_fraction, min_periods):  # fmt: skip
    """Features of one circuit: ``times (3, K)``, ``count (3,)``; returns a dict of :class:`Rhythm` fields."""
    K = times.shape[-1]
    dtype = times.dtype
    nan = jnp.asarray(jnp.nan, dtype)
    k = jnp.arange(K)
    # truncated buffers: the window ends at the earliest last stored spike of an overflowing cell
    overflow_c = count > K
    t_stop = jnp.minimum(t_end, jnp.min(jnp.where(overflow_c, times[:, -1], jnp.inf)))
    valid = (k < jnp.minimum(count, K)[:, None]) & (times >= t_start) & (times <= t_stop)
    n_spikes = jnp.sum(valid, axis=-1, dtype=jnp.int32)
    starts, ends, n_bursts = jax.vmap(lambda tt, vv: _bursts(tt, vv, burst_isi, min_burst_duration))(times, valid)
    B = starts.shape[-1]
    j = jnp.arange(B)
    in_b = j < n_bursts[:, None]  # (3, B)
    durations = jnp.where(
        n_bursts > 0, jnp.sum(jnp.where(in_b, ends - starts, 0.0), axis=-1) / jnp.maximum(n_bursts, 1), nan
    )  # fmt: skip
    n0 = n_bursts[0]
    T = jnp.where(n0 >= 2, (starts[0, jnp.maximum(n0 - 1, 0)] - starts[0, 0]) / jnp.maximum(n0 - 1, 1), nan)

    # reference periods [a_i, b_i) = [AB/PD start i, AB/PD start i + 1), i < n0 - 1
    a, b = starts[0], jnp.roll(starts[0], -1)
    e0 = ends[0]
    period = j < n0 - 1
    n_periods = jnp.maximum(n0 - 1, 0)
    s, e, one = [], [], period
    for c in (1, 2):
        lo = jnp.searchsorted(starts[c], a, side="left")  # first burst of cell c starting at or after a
        hi = jnp.searchsorted(starts[c], b, side="left")
        one = one & (hi - lo == 1)
        idx = jnp.minimum(lo, B - 1)
        s.append(starts[c][idx])
        e.append(ends[c][idx])
    tri = one  # (B,): periods in which AB/PD, LP and PY each start exactly one burst
    n_tri = jnp.sum(tri, dtype=jnp.int32)
    frac = lambda m, n: m.astype(dtype) / jnp.maximum(n, 1).astype(dtype)  # noqa: E731
    triphasic = (n_periods >= min_periods) & (frac(n_tri, n_periods) >= triphasic_fraction)
    mean = lambda x: _masked_mean(x, tri, n_tri)  # noqa: E731
    s1, s2, e1 = s[0], s[1], e[0]
    sts = jnp.stack([mean(s1 - a), mean(s2 - s1)])
    ets = jnp.stack([mean(s1 - e0), mean(s2 - e1)])
    phases = jnp.stack([mean(s1 - a), mean(s2 - a)]) / T
    ordered = tri & (s1 <= s2) & (e1 <= e[1]) & (e0 <= s1)
    pyloric = triphasic & (frac(jnp.sum(ordered, dtype=jnp.int32), n_tri) >= pyloric_fraction)
    if_tri = lambda x: jnp.where(triphasic, x, nan)  # noqa: E731
    return dict(
        cycle_period=T, burst_durations=durations, duty_cycles=durations / T, n_spikes=n_spikes, n_bursts=n_bursts,
        start_phases=if_tri(phases), starts_to_starts=if_tri(sts), ends_to_starts=if_tri(ets),
        phase_gaps=if_tri(ets / T), triphasic=triphasic, pyloric_like=pyloric, n_periods=n_periods.astype(jnp.int32),
        n_triphasic=n_tri, overflow=jnp.any(overflow_c),
    )  # fmt: skip


def _check_options(options):
    unknown = set(options) - set(RHYTHM_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown rhythm options {sorted(unknown)}; valid: {sorted(RHYTHM_DEFAULTS)}")
    o = {**RHYTHM_DEFAULTS, **options}
    for name in ("burst_isi", "min_burst_duration", "triphasic_fraction", "pyloric_fraction"):
        if not (isinstance(o[name], (int, float)) and math.isfinite(o[name]) and o[name] >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {o[name]!r}")
    if not o["burst_isi"] > 0:
        raise ValueError(f"burst_isi must be > 0 ms, got {o['burst_isi']!r}")
    if not (isinstance(o["min_periods"], int) and o["min_periods"] >= 1):
        raise ValueError(f"min_periods must be an integer >= 1, got {o['min_periods']!r}")
    return tuple(sorted((name, float(v) if name != "min_periods" else v) for name, v in o.items()))


def rhythm_from_spikes(spike_times, n_spikes, t_start, t_end, **options) -> Rhythm:
    """Rhythm features (spec 3.6) of three-cell circuits from their spike times.

    Args:
        spike_times: ``(..., 3, K)`` spike times (ms) of AB/PD, LP, PY, increasing along the last
            axis, NaN beyond the stored spikes.
        n_spikes: ``(..., 3)`` spikes per cell. The first ``min(n_spikes, K)`` entries are used.
            When it exceeds ``K`` the buffer is *truncated* (the first ``K`` spikes were kept): the
            analysis window of all three cells then ends at ``t_stop``, the earliest last stored
            spike of an overflowing cell, and ``overflow`` is set.
        t_start, t_end: analysis window (ms; scalars or batch-shaped); only spikes with
            ``t_start <= t <= min(t_end, t_stop)`` count.
        options: :data:`RHYTHM_DEFAULTS` keywords (Python numbers; static).

    Rules (spec 3.6, mackelab/pyloric semantics; choices marked *):

    1. Bursts, per cell: split the spike train wherever an ISI ``>= burst_isi`` (150 ms); a burst
       runs from its first to its last spike and is kept if last - first ``> min_burst_duration``
       (40 ms; *strictly greater, as upstream's code: exactly 40 ms is dropped, and a single spike is
       never a burst even with a 0 threshold). Bursts cut by the window edges are kept, as upstream.
       ``burst_durations``: mean last - first over the kept bursts.
    2. Cycle period ``T``: mean difference of consecutive AB/PD burst starts (>= 2 AB/PD bursts).
    3. Reference period ``i``: ``[start_i, start_{i+1})`` of consecutive AB/PD bursts; it is
       triphasic if LP and PY each *start* exactly one burst in it (AB/PD trivially does). The
       circuit is triphasic if there are ``>= min_periods`` (2) periods and ``n_triphasic /
       n_periods >= triphasic_fraction`` (0.9). *``min_periods = 2`` follows the spec text;
       upstream's code tests ``>= 2`` AB/PD burst *starts* (1 period): ``min_periods=1`` reproduces it.
    4. Phase features, means over the triphasic periods of the bursts that start in them (the
       AB/PD burst is the one starting the period; LP/PY ends may lie after the period):
       ``starts_to_starts`` = start_LP - start_ABPD, start_PY - start_LP; ``ends_to_starts`` =
       start_LP - end_ABPD, start_PY - end_LP; ``phase_gaps`` = ``ends_to_starts`` / T;
       ``start_phases`` = (start_LP - start_ABPD) / T, (start_PY - start_ABPD) / T. NaN unless triphasic.
    5. ``pyloric_like``: triphasic and, in ``>= pyloric_fraction`` (0.7) of the triphasic periods,
       start_LP <= start_PY, end_LP <= end_PY and end_ABPD <= start_LP.

    Pure and jit/vmap-able (``K`` static). Returns a :class:`Rhythm` with the batch shape ``...``.
    """
    opts = _check_options(options)
    spike_times = jnp.asarray(spike_times)
    dtype = jnp.result_type(spike_times.dtype, jnp.float32)
    spike_times = spike_times.astype(dtype)
    n_spikes = jnp.asarray(n_spikes)
    if spike_times.ndim < 2 or spike_times.shape[-2] != 3 or spike_times.shape[-1] < 1:
        raise ValueError(f"spike_times must have shape (..., 3, K) (AB/PD, LP, PY), got {spike_times.shape}")
    if n_spikes.shape != spike_times.shape[:-1]:
        raise ValueError(f"n_spikes must have shape {spike_times.shape[:-1]} (..., 3), got {n_spikes.shape}")
    batch = spike_times.shape[:-2]
    t_start = jnp.broadcast_to(jnp.asarray(t_start, dtype), batch)
    t_end = jnp.broadcast_to(jnp.asarray(t_end, dtype), batch)
    return _rhythm(spike_times, n_spikes.astype(jnp.int32), t_start, t_end, options=opts)


@functools.partial(jax.jit, static_argnames=("options",))
def _rhythm(times, count, t_start, t_end, *, options):
    batch = times.shape[:-2]
    n = math.prod(batch)
    fn = functools.partial(_rhythm_one, **dict(options))
    out = jax.vmap(fn)(times.reshape((n,) + times.shape[-2:]), count.reshape((n, 3)), t_start.reshape(n),
                       t_end.reshape(n))  # fmt: skip
    return Rhythm(**{name: out[name].reshape(batch + out[name].shape[1:]) for name in Rhythm.feature_names})


# --- voltage traces --------------------------------------------------------------------------------


def savgol_matrix(window: int, polyorder: int = 3) -> np.ndarray:
    """``(window, window)`` Savitzky-Golay projection: row ``r`` maps ``window`` samples to the
    value at sample ``r`` of their least-squares polynomial of degree ``polyorder``. The middle row
    is the smoothing kernel; the others give the edge values (scipy's ``mode="interp"``).
    The identity when ``polyorder >= window - 1``."""
    x = np.arange(window, dtype=np.float64) - window // 2
    X = np.vander(x, min(polyorder + 1, window), increasing=True)
    return X @ np.linalg.pinv(X)


def smoothing_samples(dt: float, window: float = SMOOTHING_WINDOW) -> int:
    """Savitzky-Golay window in samples: ``floor(window / dt)``, plus 1 if even (as upstream)."""
    w = int(math.floor(window / dt + 1e-6))
    return w + 1 if w % 2 == 0 else w


def _smooth(v, P):
    """Savitzky-Golay filter of ``v (n,)`` with projection ``P (w, w)``: the convolution with its
    middle row inside, the polynomial fits of the first / last ``w`` samples at the edges."""
    w = P.shape[0]
    h = w // 2
    n = v.shape[0]
    if w == 1:
        return v
    P = jnp.asarray(P, v.dtype)
    mid = sum(P[h, i] * v[i : n - w + 1 + i] for i in range(w))
    head = P[:h] @ v[:w]
    tail = P[h + 1 :] @ v[n - w :]
    return jnp.concatenate([head, mid, tail])


def _peaks_1d(t, v, P, threshold, t_start, max_spikes):
    """Local maxima of the smoothed ``v`` above ``threshold`` at ``t >= t_start``: ``(times, count)``."""
    vs = _smooth(v.astype(t.dtype), P)
    mid = vs[1:-1]
    peak = (mid > threshold) & (mid > vs[:-2]) & (mid >= vs[2:]) & (t[1:-1] >= t_start)
    rank = jnp.cumsum(peak, dtype=jnp.int32)
    count = rank[-1]
    k = jnp.arange(1, max_spikes + 1, dtype=jnp.int32)
    idx = jnp.minimum(jnp.searchsorted(rank, k, side="left"), mid.shape[0] - 1)
    return jnp.where(k <= count, t[1:-1][idx], jnp.nan), count


def pyloric_features(t, V, *, threshold: float = DEFAULT_THRESHOLD, max_spikes: int = DEFAULT_MAX_SPIKES,
                     transient: float = 0.0, smoothing_window: float = SMOOTHING_WINDOW, dt: float | None = None,
                     batch_size: int | None = None, **options) -> Rhythm:  # fmt: skip
    """Rhythm features (spec 3.6) of voltage traces ``V`` (mV, ``(..., 3, n_times)``; AB/PD, LP,
    PY) sampled at ``t`` (ms, ``(n_times,)``, uniform).

    1. Smoothing: Savitzky-Golay, cubic, ``w = floor(smoothing_window / dt)`` samples (0.5 ms),
       plus 1 if even (upstream's rounding: 5 samples at dt = 0.1 ms, 21 at 0.025 ms); the edges
       as scipy's default ``mode="interp"``. *With ``w <= 3`` (dt > 0.125 ms) a cubic fits the
       window exactly, so the filter is the identity: no smoothing. ``dt`` (ms) defaults to the
       mean step of ``t`` (``t`` must then be concrete, not traced); pass it when calling under ``jit``.
    2. Spikes: samples ``i`` (with both neighbours) of the smoothed ``Vs`` with ``Vs[i] >
       threshold`` (-10 mV), ``Vs[i] > Vs[i-1]`` and ``Vs[i] >= Vs[i+1]``, at time ``t[i]``.
       *Upstream takes ``>=`` on both sides (a flat top, or a constant trace above threshold, then
       gives a spike per sample; here a flat top counts once) and reports ``t[i-1]`` (an
       off-by-one: one sample early; here ``t[i]``).
    3. Window: the whole trace is smoothed; spikes at ``t >= t[0] + transient`` (through ``t[-1]``)
       count (*upstream smooths the windowed trace only: edge values may differ). The first
       ``max_spikes`` of them per cell are analysed by :func:`rhythm_from_spikes` (``overflow`` beyond).

    ``options``: :data:`RHYTHM_DEFAULTS` keywords. Pure and jit/vmap-able; ``batch_size``
    traces are smoothed at once (default: blocks of about 2**24 samples) to bound memory.
    """
    if not (isinstance(max_spikes, int) and max_spikes >= 1):
        raise ValueError(f"max_spikes must be a positive integer, got {max_spikes!r}")
    t, V = check_trace(t, V)
    if V.ndim < 2 or V.shape[-2] != 3 or t.shape[0] < 3:
        raise ValueError(f"V must have shape (..., 3, n_times), n_times >= 3 (AB/PD, LP, PY), got {V.shape}")
    if dt is None:
        try:
            tn = np.asarray(t)
        except jax.errors.TracerArrayConversionError:
            raise ValueError("pyloric_features under jit: pass the sampling step dt (ms) explicitly") from None
        dt = float(tn[-1] - tn[0]) / (tn.shape[0] - 1)
    if not (isinstance(dt, (int, float)) and dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt must be a positive number of ms, got {dt!r}")
    w = smoothing_samples(float(dt), smoothing_window) if smoothing_window > 0 else 1
    w = w if w > 4 else 1  # a cubic through <= 4 samples is exact: the identity, applied exactly
    if w > t.shape[0]:
        raise ValueError(f"the smoothing window ({w} samples) is longer than the trace ({t.shape[0]} samples)")
    P = tuple(map(tuple, savgol_matrix(w, 3)))  # hashable, static
    times, count = _trace_spikes(t, V, t[0] + transient, P=P, threshold=float(threshold), max_spikes=max_spikes,
                                 batch_size=batch_size)  # fmt: skip
    return rhythm_from_spikes(times, count, t[0] + transient, t[-1], **options)


@functools.partial(jax.jit, static_argnames=("P", "threshold", "max_spikes", "batch_size"))
def _trace_spikes(t, V, t_start, *, P, threshold, max_spikes, batch_size):
    P = np.asarray(P)
    return map_members(lambda v: _peaks_1d(t, v, P, threshold, t_start, max_spikes), V, batch_size)


def rhythm_from_solution(sol, **options) -> Rhythm:
    """Rhythm features (spec 3.6) of a :class:`~jaxneuron.Solution` of a three-voltage circuit model
    (AB/PD, LP, PY) simulated with ``save=SaveAt(spikes=True, ...)``, over its window
    ``[t0 + transient, t_end]``.

    The engine's spike times are *upward crossings* of ``SaveAt.threshold`` on the solver's
    interpolant, not the smoothed-trace peaks of :func:`pyloric_features`: burst starts and ends
    come a fraction of a millisecond earlier (the rise time of a spike), the same for each spike,
    so periods and durations agree closely, but the two are not identical. Members whose solve
    failed (``sol.status != 0``) are analysed as recorded: check ``sol.ok``.
    ``options``: :data:`RHYTHM_DEFAULTS` keywords.
    """
    if sol.spike_times is None:
        raise ValueError("rhythm_from_solution needs spike times: simulate with save=jaxneuron.SaveAt(spikes=True)")
    if sol.spike_times.ndim < 2 or sol.spike_times.shape[-2] != 3:
        raise ValueError(f"rhythm_from_solution needs a model with 3 membrane potentials (AB/PD, LP, PY); spike_times "
                         f"has shape {sol.spike_times.shape}")  # fmt: skip
    return rhythm_from_spikes(sol.spike_times, sol.n_spikes, sol.t0 + sol.transient, sol.t_end, **options)
