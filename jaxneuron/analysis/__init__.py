"""Activity analysis of saved voltage traces: spikes, bursts, classification, f-I curves, pyloric rhythms.

All analysis functions are pure JAX over ``V (..., n_times)`` sampled at ``t (n_times,)`` (ms),
with fixed-size outputs, so they run under ``jit`` and ``vmap`` (``fi_curve`` is a driver that
calls :func:`jaxneuron.simulate`).
"""

from .activity import DEFAULT_SLOW_WAVE_WINDOW, Activity, activity, format_activity
from .bursts import (
    ACTIVITY_LABELS, BURSTING, CLASSIFY_DEFAULTS, IRREGULAR, SILENT, TONIC, UNDETERMINED, classify_spike_train,
)  # fmt: skip
from .fi import FICurve, fi_curve
from .rhythm import RHYTHM_DEFAULTS, Rhythm, pyloric_features, rhythm_from_solution, rhythm_from_spikes, rhythm_vector
from .spikes import DEFAULT_MAX_SPIKES, DEFAULT_THRESHOLD, SpikeTimes, spike_times

__all__ = [
    "Activity", "activity", "format_activity", "ACTIVITY_LABELS", "SILENT", "TONIC", "BURSTING", "IRREGULAR", "UNDETERMINED",
    "CLASSIFY_DEFAULTS", "classify_spike_train", "SpikeTimes", "spike_times", "DEFAULT_THRESHOLD",
    "DEFAULT_MAX_SPIKES", "DEFAULT_SLOW_WAVE_WINDOW", "FICurve", "fi_curve", "Rhythm", "RHYTHM_DEFAULTS",
    "pyloric_features", "rhythm_from_spikes", "rhythm_from_solution", "rhythm_vector",
]  # fmt: skip
