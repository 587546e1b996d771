"""The chunk program of a network sweep (:mod:`.network`): simulate ``chunk_size`` pyloric
networks and reduce them on the device.

Per chunk: the members' cells (``(chunk_size, 8)`` conductances per slot, mS/cm^2), swept synapse
strengths (nS) and stimulus fields, and their initial states (warm start settled on the host,
:func:`.network.initial_states`) go in; :func:`jaxneuron.simulate` on the queue engine records
every cell's spike times (``SaveAt(states=None, spikes=True)``, upward crossings of -10 mV by
default); :func:`jaxneuron.activity_from_spikes` gives the per-cell activity features
(``(chunk_size, 3)``: AB/PD, LP, PY) and :func:`jaxneuron.analysis.rhythm.rhythm_from_solution`
the rhythm features (circuit ``(chunk_size,)``, per cell ``(chunk_size, 3)``, per pair
``(chunk_size, 2)``: AB/PD->LP, LP->PY) and ``rhythm_class``. The kept members are simulated again
saving V of all three cells every ``traces.save_dt`` (``(n_trace_slots, 3, n_times)`` float32, mV);
a chunk that keeps no trace skips that second solve (it would take about as long as the chunk's:
the queue engine's time is set by the number of steps, not by the number of members).

A member whose solve failed (``status != 0``, or a failed warm-start settling solve: its status)
gets NaN float features, ``label = -1``, ``rhythm_class = -1`` and ``triphasic = pyloric_like = False``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np

from . import network as net

__all__ = ["NetworkProgram", "network_program", "network_inputs", "run_chunk_network"]


@dataclasses.dataclass(frozen=True)
class NetworkProgram:
    """Everything static about one network sweep's chunk computation. Times in ms."""

    fixed_synapses: tuple[tuple[str, float], ...]
    swept_synapses: tuple[str, ...]
    stimulus_kind: str | None
    stimulus_fixed: tuple[tuple[str, Any], ...]
    swept_stimulus: tuple[str, ...]
    t0: float
    transient: float
    t_end: float
    save_dt: float
    solver: Any
    feature_names: tuple[str, ...]
    spike_options: tuple[tuple[str, Any], ...]  # threshold (mV), max_spikes: SaveAt
    classify_options: tuple[tuple[str, Any], ...]  # jaxneuron.activity_from_spikes
    rhythm_options: tuple[tuple[str, Any], ...]
    trace_stride: int
    engine: str = "queue"


def network_program(spec) -> NetworkProgram:
    """The static chunk program of a network sweep; ``label`` is always among the features."""
    from ..analysis.bursts import CLASSIFY_DEFAULTS

    names = spec.space.names
    p = spec.protocol
    args = net.model_arguments(spec)
    opts = dict(spec.feature_options)
    features = spec.feature_names if "label" in spec.feature_names else ("label",) + spec.feature_names
    return NetworkProgram(
        fixed_synapses=tuple((g, float(args[g])) for g in net.SYNAPSES if g not in names),
        swept_synapses=tuple(g for g in net.SYNAPSES if g in names),
        stimulus_kind=p.stimulus_kind, stimulus_fixed=p.stimulus_fixed,
        swept_stimulus=tuple(n.split(".", 1)[1] for n in names if n.startswith("stimulus.")),
        t0=p.t0, transient=p.transient, t_end=p.t_end, save_dt=p.save_dt, solver=spec.solver(), feature_names=features,
        spike_options=tuple((k, opts[k]) for k in ("threshold", "max_spikes") if k in opts),
        classify_options=tuple((k, v) for k, v in sorted(opts.items()) if k in CLASSIFY_DEFAULTS),
        rhythm_options=spec.rhythm_options, trace_stride=int(round(spec.traces_save_dt / p.save_dt)),
    )  # fmt: skip


def network_inputs(spec, k: int, *, warm: bool = True):
    """``(inputs, trace_rows)`` of chunk ``k``: ``inputs = {"cells": {slot: (n, 8)}, "synapses":
    {name: (n,)}, "stimulus": {field: (n,)}, "y0": (n, 43), "settle_status": (n,)}``. With
    ``warm=False`` the initial states are zeros (shapes only: :func:`.engine.output_structure`).
    ``inputs["n_kept"]`` (a Python int): how many of ``trace_rows`` are kept members."""
    from .engine import chunk_members, chunk_trace_rows

    members, _ = chunk_members(spec, k)
    values = spec.space.values(members)
    cells = net.chunk_cells(spec, values)
    n = members.size
    if warm:
        y0, settle = net.initial_states(spec, cells, spec.solver())
    else:
        y0, settle = np.zeros((n, net._layout().n_states)), np.zeros(n, dtype=np.int8)
    inputs = {
        "cells": {s: jnp.asarray(cells[s]) for s in net.SLOTS},
        "synapses": {g: jnp.asarray(values[g], dtype=float) for g in net.SYNAPSES if g in values},
        "stimulus": {n_.split(".", 1)[1]: jnp.asarray(v, dtype=float) for n_, v in values.items() if n_.startswith("stimulus.")},
        "y0": jnp.asarray(y0), "settle_status": jnp.asarray(settle, dtype=jnp.int32),
    }  # fmt: skip
    rows, kept = chunk_trace_rows(spec, k)
    inputs["n_kept"] = kept.stop - kept.start
    return inputs, jnp.asarray(rows)


def _simulate(program: NetworkProgram, inputs: dict, save):
    from .. import QueueEngine, simulate
    from ..models import Pyloric2004
    from .sections import stimulus_classes

    model = Pyloric2004(**inputs["cells"], **dict(program.fixed_synapses), **inputs["synapses"])
    stimulus = None
    if program.stimulus_kind is not None:
        stimulus = stimulus_classes()[program.stimulus_kind](**dict(program.stimulus_fixed), **inputs["stimulus"])
    return simulate(model, y0=inputs["y0"], t0=program.t0, t_end=program.t_end, stimulus=stimulus, save=save,
                    solver=program.solver, engine=QueueEngine())  # fmt: skip


def _rows(inputs: dict, rows) -> dict:
    """The inputs of the chunk rows ``rows`` only."""
    return {k: ({n: v[rows] for n, v in x.items()} if isinstance(x, dict) else x[rows]) for k, x in inputs.items() if k != "n_kept"}


def run_chunk_network(program: NetworkProgram, inputs: dict, trace_rows):
    """Simulate and reduce one chunk of networks: ``(features, status, num_steps, traces)``."""
    from .. import SaveAt, activity_from_spikes
    from ..analysis.rhythm import rhythm_from_solution

    save = SaveAt(transient=program.transient, states=None, spikes=True, **dict(program.spike_options))
    sol = _simulate(program, inputs, save)
    settle = inputs["settle_status"].astype(sol.status.dtype)
    status = jnp.where(settle != 0, settle, sol.status)
    act = activity_from_spikes(sol, **dict(program.classify_options))
    rh = rhythm_from_solution(sol, **dict(program.rhythm_options))
    bad = status != 0
    features = {}
    for name in program.feature_names:
        x = getattr(rh, net.RHYTHM_FEATURES[name]) if name in net.RHYTHM_FEATURES else getattr(act, name)
        b = bad.reshape(bad.shape + (1,) * (x.ndim - 1))
        if jnp.issubdtype(x.dtype, jnp.floating):
            x = jnp.where(b, jnp.nan, x)
        elif name in ("triphasic", "pyloric_like"):
            x = x & ~b
        features[name] = x
    features["label"] = jnp.where(bad[:, None], -1, features["label"])
    cls = jnp.where(rh.pyloric_like, 2, jnp.where(rh.triphasic, 1, 0))
    features["rhythm_class"] = jnp.where(bad, -1, cls).astype(jnp.int8)
    every = SaveAt(transient=program.transient, save_dt=program.save_dt * program.trace_stride)
    if inputs.get("n_kept", 1) == 0:  # nothing kept in this chunk: no second solve
        traces = jnp.zeros((trace_rows.shape[0], 3, every.times(program.t0, program.t_end).shape[0]), jnp.float32)
    else:
        traces = _simulate(program, _rows(inputs, trace_rows), every).V.astype(jnp.float32)
    return features, status, sol.num_steps, traces
