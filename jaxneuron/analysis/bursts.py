"""Burst segmentation and the silent / tonic / bursting / irregular / undetermined classification of one spike train.

Works on the fixed-size, NaN-padded spike-time buffer of one trace (see
:func:`jaxneuron.analysis.spikes.spike_times`), so every step has a static shape and the whole
analysis runs under ``jit``/``vmap``. The rules are stated in :func:`jaxneuron.activity` and
follow the Prinz-lab criteria of spec section 2.8; :data:`CLASSIFY_DEFAULTS` holds the thresholds.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = [
    "SILENT", "TONIC", "BURSTING", "IRREGULAR", "UNDETERMINED", "ACTIVITY_LABELS", "CLASSIFY_DEFAULTS",
    "classify_spike_train",
]  # fmt: skip

SILENT, TONIC, BURSTING, IRREGULAR, UNDETERMINED = 0, 1, 2, 3, 4
ACTIVITY_LABELS = ("silent", "tonic", "bursting", "irregular", "undetermined")
"""Names of the activity labels, indexed by :attr:`jaxneuron.Activity.label`. ``undetermined``:
the cell spikes, but the window is too short to tell tonic, bursting and irregular apart (see
:func:`jaxneuron.activity`); it is never reported as ``irregular``."""

CLASSIFY_DEFAULTS = dict(
    min_spikes=2,  # fewer spikes in the window: silent
    min_isis=3,  # ISIs needed to test tonic regularity
    regularity_tol=0.05,  # tonic: (max ISI - min ISI) / mean ISI < 5 %
    modulation_ratio=5.0,  # "modulated tonic": max ISI < 5 x min ISI
    modulated_fraction=0.99,  # ... then ISIs > 99 % of the largest ISI separate bursts
    largest_fraction=0.5,  # otherwise 50 % of the largest ISI if that exceeds ...
    mean_factor=2.0,  # ... 2 x the mean ISI, else the mean ISI
    max_burst_isi=500.0,  # the segmentation threshold is capped at 500 ms
    min_bursts=3,  # complete bursts needed to call a cell bursting
    min_spikes_per_burst=2,  # every complete burst needs >= 2 spikes
    max_bursts_per_period=3,  # periodic with 1, 2 or 3 bursts per period
    periodicity_tol=0.05,  # (max - min) / mean of the k-burst periods < 5 %
)


def _masked_max(x, mask):
    return jnp.max(jnp.where(mask, x, -jnp.inf))


def _masked_min(x, mask):
    return jnp.min(jnp.where(mask, x, jnp.inf))


def _masked_sum(x, mask):
    return jnp.sum(jnp.where(mask, x, 0.0))


def _spread_ok(x, mask, count, tol):
    """``count >= 2`` and ``(max - min) / mean < tol`` over ``x[mask]``."""
    mean = _masked_sum(x, mask) / jnp.maximum(count, 1)
    spread = (_masked_max(x, mask) - _masked_min(x, mask)) / mean
    return (count >= 2) & (spread < tol)


def classify_spike_train(times, count, t_first, t_last, *, min_spikes, min_isis, regularity_tol, modulation_ratio,
                         modulated_fraction, largest_fraction, mean_factor, max_burst_isi, min_bursts,
                         min_spikes_per_burst, max_bursts_per_period, periodicity_tol):  # fmt: skip
    """Features and label of one spike train.

    ``times``: ``(K,)`` spike times (ms), increasing, NaN beyond the stored spikes; ``count``:
    total number of spikes in the window (may exceed ``K``: then only the first ``K`` are used
    and the analysed window ends at the ``K``-th spike); ``t_first``, ``t_last``: window (ms).
    Returns a dict of scalars (see :class:`jaxneuron.Activity`).
    """
    K = times.shape[0]
    dtype = times.dtype
    nan = jnp.asarray(jnp.nan, dtype)
    overflow = count > K
    n = jnp.minimum(count, K)  # spikes stored and analysed
    n_isi = jnp.maximum(n - 1, 0)
    spiking = count >= min_spikes

    # --- inter-spike intervals and the window edges ---------------------------------------------
    isi = times[1:] - times[:-1]
    isi_ok = jnp.arange(K - 1) < n_isi
    isi_max = _masked_max(isi, isi_ok)
    isi_min = _masked_min(isi, isi_ok)
    isi_mean = _masked_sum(isi, isi_ok) / jnp.maximum(n_isi, 1)
    isi_var = _masked_sum((isi - isi_mean) ** 2, isi_ok) / jnp.maximum(n_isi, 1)
    first = times[0]
    last = times[jnp.maximum(n - 1, 0)]
    t_stop = jnp.where(overflow, last, t_last)  # on overflow the analysed window ends at the last stored spike
    lead = first - t_first
    trail = t_stop - last

    # --- tonic ----------------------------------------------------------------------------------
    regular = (isi_max - isi_min) / isi_mean < regularity_tol
    edges_tonic = (lead <= (1 + regularity_tol) * isi_max) & (trail <= (1 + regularity_tol) * isi_max)
    tonic = spiking & (n_isi >= min_isis) & regular & edges_tonic

    # --- burst segmentation (Prinz) -------------------------------------------------------------
    modulated = isi_max < modulation_ratio * isi_min
    theta = jnp.where(
        modulated,
        modulated_fraction * isi_max,
        jnp.where(largest_fraction * isi_max > mean_factor * isi_mean, largest_fraction * isi_max, isi_mean),
    )
    theta = jnp.minimum(theta, max_burst_isi)
    ibi = isi_ok & (isi > theta)
    seg = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(ibi, dtype=jnp.int32)])  # burst index of each spike
    valid = jnp.arange(K) < n
    n_seg = jnp.where(n > 0, seg[jnp.maximum(n - 1, 0)] + 1, 0)
    is_start = valid & jnp.concatenate([jnp.ones(1, bool), ibi])
    is_end = (valid & jnp.concatenate([ibi, jnp.zeros(1, bool)])) | (jnp.arange(K) == n - 1)
    drop = K  # out-of-range index: scatter drops it
    b_start = jnp.full(K, nan).at[jnp.where(is_start, seg, drop)].set(times, mode="drop")
    b_end = jnp.full(K, nan).at[jnp.where(is_end, seg, drop)].set(times, mode="drop")
    b_count = jnp.zeros(K, jnp.int32).at[jnp.where(valid, seg, drop)].add(1, mode="drop")

    # complete bursts: all but a first one cut by the window start and a last one cut by its end
    s0 = jnp.where(lead > theta, 0, 1)
    s1 = jnp.where(trail > theta, n_seg - 1, n_seg - 2)
    n_complete = jnp.where(spiking, jnp.maximum(s1 - s0 + 1, 0), 0)
    s = jnp.arange(K)
    complete = (s >= s0) & (s <= s1)
    min_count = jnp.min(jnp.where(complete, b_count, jnp.iinfo(jnp.int32).max))

    # periodicity: k-burst periods start[j+k] - start[j] over the complete bursts
    bursts_per_period = jnp.zeros((), jnp.int32)
    for k in range(max_bursts_per_period, 0, -1):  # the smallest passing k wins
        pk = jnp.roll(b_start, -k) - b_start
        mk = (s >= s0) & (s + k <= s1)
        ok_k = _spread_ok(pk, mk, n_complete - k, periodicity_tol)
        bursts_per_period = jnp.where(ok_k, k, bursts_per_period)
    p1 = jnp.roll(b_start, -1) - b_start
    m1 = (s >= s0) & (s + 1 <= s1)
    p1_max = _masked_max(p1, m1)
    edges_burst = (lead <= (1 + periodicity_tol) * p1_max) & (trail <= (1 + periodicity_tol) * p1_max)
    bursting = (
        spiking & ~tonic & (n_complete >= min_bursts) & (min_count >= min_spikes_per_burst)
        & (bursts_per_period > 0) & edges_burst
    )  # fmt: skip

    # --- undetermined: spiking, neither tonic nor bursting, and the window too short to say so ------
    undecided = spiking & ~tonic & ~bursting
    few_isis = n_isi < min_isis  # cannot test tonic regularity
    few_bursts = n_complete < min_bursts  # cannot test periodicity at all
    # every other bursting test passed, but some k-burst pattern (k <= max_bursts_per_period) had
    # fewer than 2 k-burst periods to compare (k + 2 complete bursts): a k = 2 or 3 burster
    untested = (
        (min_count >= min_spikes_per_burst) & edges_burst & (n_complete < max_bursts_per_period + 2)
    )  # fmt: skip
    # ISIs within a factor modulation_ratio but a silence at a window edge at least that long (lead
    # and trail are lower bounds of the ISIs that straddle the edges): one episode of firing seen
    episode = modulated & (jnp.maximum(lead, trail) >= modulation_ratio * isi_min)
    # modulated-tonic trains that fire through the window are decided once they have min_isis ISIs:
    # their "bursts" are split at near-maximal ISIs, whose number need not grow with the window
    too_short = undecided & (few_isis | episode | (~modulated & (few_bursts | untested)))

    label = jnp.where(
        ~spiking, SILENT,
        jnp.where(tonic, TONIC, jnp.where(bursting, BURSTING, jnp.where(too_short, UNDETERMINED, IRREGULAR))),
    )  # fmt: skip

    # --- burst features (bursting cells only) ---------------------------------------------------
    nc = jnp.maximum(n_complete, 1)
    period = _masked_sum(p1, m1) / jnp.maximum(n_complete - 1, 1)
    duration = _masked_sum(b_end - b_start, complete) / nc
    spb = _masked_sum(b_count.astype(dtype), complete) / nc
    ibi_mean = _masked_sum(jnp.roll(b_start, -1) - b_end, m1) / jnp.maximum(n_complete - 1, 1)
    burst = lambda x: jnp.where(bursting, x, nan)  # noqa: E731

    return dict(
        label=label.astype(jnp.int32),
        isi_mean=jnp.where(n_isi >= 1, isi_mean, nan),
        isi_cv=jnp.where(n_isi >= 2, jnp.sqrt(isi_var) / isi_mean, nan),
        n_bursts=jnp.where(bursting, n_complete, 0).astype(jnp.int32),
        bursts_per_period=jnp.where(bursting, bursts_per_period, 0).astype(jnp.int32),
        burst_period=burst(period),
        burst_duration=burst(duration),
        duty_cycle=burst(duration / period),
        spikes_per_burst=burst(spb),
        interburst_interval=burst(ibi_mean),
        overflow=overflow,
        too_short=too_short,
    )
