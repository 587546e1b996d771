"""The chunk program: simulate a fixed-shape chunk of members and reduce it on the device.

One jitted function per sweep (:func:`run_chunk`) takes the swept parameter values of
``chunk_size`` members (the last chunk padded), builds the batched model and stimulus, simulates
each member from ``t0`` over the ``transient`` and the analysed ``window`` (to ``t_end``, all in
ms) with :func:`jaxneuron.simulate`, measures the activity features and picks the kept traces.
Only those leave the device: per-member features, solver ``status``
(:class:`jaxneuron.solvers.status.Status`) and step counts, and ``(n_trace_slots, n_times)``
float32 traces. Every argument but the parameter values and trace rows is static, so its
programs compile once per sweep.

The ``[solver] engine`` picks how:

* ``"queue"`` (default): :class:`jaxneuron.QueueEngine` (no lock-step between the chunk's
  members) saving spike times only (``SaveAt(states=None, spikes=True)``), features by
  :func:`jaxneuron.activity_from_spikes` (``slow_wave_amplitude`` is NaN); the kept traces come
  from a second :func:`jaxneuron.simulate` of the kept rows only.
* ``"diffrax"``: :class:`jaxneuron.DiffraxEngine` (``jax.vmap`` around
  ``diffrax.diffeqsolve``) saving every member's analysed window, features by
  :func:`jaxneuron.activity` on it.

Memory (diffrax engine): the analysed window of a chunk, ``chunk_size x window / save_dt``
float64 samples (plus the solver state); the queue engine holds ``max_spikes`` spike times per
member instead. At most two chunks are in flight (the driver writes chunk k while the device
computes chunk k+1): memory is bounded by the chunk size, not by the sweep size.

Network sweeps (:mod:`.network`) have their own program, :mod:`.network_engine`; the functions
here dispatch on the spec (:attr:`SweepSpec.is_network`) and the program type.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .spec import SweepSpec

__all__ = ["ChunkProgram", "chunk_program", "run_chunk", "chunk_members", "trace_slots", "output_structure", "trace_times"]

@dataclasses.dataclass(frozen=True)
class ChunkProgram:
    """Everything static about one sweep's chunk computation (hashable: jit cache key). Times in
    ms: ``t0`` start, ``transient`` not analysed, ``t_end`` end, ``save_dt`` analysed sampling."""

    model: str
    fixed: tuple[tuple[str, float], ...]
    swept_model: tuple[str, ...]
    stimulus_kind: str | None
    stimulus_fixed: tuple[tuple[str, Any], ...]
    swept_stimulus: tuple[str, ...]
    initial_state: tuple[tuple[str, float], ...] | None
    t0: float
    transient: float
    t_end: float
    save_dt: float
    solver: Any  # a jaxneuron solver choice (an equinox Module of Python numbers)
    feature_names: tuple[str, ...]
    feature_options: tuple[tuple[str, Any], ...]
    trace_stride: int
    engine: str = "queue"  # "queue" | "diffrax"


def chunk_program(spec: SweepSpec):
    """The static chunk program of ``spec`` (a :class:`ChunkProgram`, or for a network model a
    :class:`.network_engine.NetworkProgram`); ``label`` is always among the features."""
    if spec.is_network:
        from .network_engine import network_program

        return network_program(spec)
    names = spec.space.names
    p = spec.protocol
    features = spec.feature_names if "label" in spec.feature_names else ("label",) + spec.feature_names
    return ChunkProgram(
        model=spec.model, fixed=tuple(sorted((k, v) for k, v in spec.model_parameters().items() if k not in names)),
        swept_model=tuple(n for n in names if not n.startswith("stimulus.")),
        stimulus_kind=p.stimulus_kind, stimulus_fixed=p.stimulus_fixed,
        swept_stimulus=tuple(n.split(".", 1)[1] for n in names if n.startswith("stimulus.")),
        initial_state=p.initial_state, t0=p.t0, transient=p.transient, t_end=p.t_end, save_dt=p.save_dt,
        solver=spec.solver(), feature_names=features, feature_options=spec.feature_options,
        trace_stride=int(round(spec.traces_save_dt / p.save_dt)), engine=spec.engine,
    )  # fmt: skip


def _initial_state(model, initial_state):
    if initial_state is None:
        return model.default_y0()
    given = dict(initial_state)
    accepted = inspect.signature(model.steady_state).parameters
    y0 = model.steady_state(**{k: v for k, v in given.items() if k in accepted})
    for name, value in given.items():
        y0 = y0.at[..., model.state_index(name)].set(value)
    return y0


def _build(program: ChunkProgram, params: dict):
    from ..models import get_model_class
    from .spec import stimulus_classes

    model = get_model_class(program.model)(**dict(program.fixed), **{n: params[n] for n in program.swept_model})
    stimulus = None
    if program.stimulus_kind is not None:
        kw = dict(program.stimulus_fixed)
        kw.update({n: params["stimulus." + n] for n in program.swept_stimulus})
        stimulus = stimulus_classes()[program.stimulus_kind](**kw)
    return model, stimulus


def _masked(x, bad):
    """Float features of failed members become NaN (integers and flags are kept; see ``label``)."""
    if jnp.issubdtype(x.dtype, jnp.floating):
        return jnp.where(bad, jnp.nan, x)
    return x


def _features(program: ChunkProgram, act, status, times=None, count=None):
    """The program's features of each member; a failed member's floats are NaN and its label
    (and firing pattern) -1. ``times``, ``count``: the spike buffers, for firing patterns."""
    from ..analysis.patterns import PATTERN_FEATURES, patterns_of

    bad = status.reshape(-1) != 0
    sources = {n: act for n in program.feature_names if n not in PATTERN_FEATURES}
    if any(n in PATTERN_FEATURES for n in program.feature_names):
        fp = patterns_of(times, count, program.t0 + program.transient, program.t_end)
        sources.update({n: fp for n in PATTERN_FEATURES})
    features = {n: _masked(getattr(sources[n], n).reshape(-1), bad) for n in program.feature_names}
    features["label"] = jnp.where(bad, -1, features["label"])
    if "pattern" in features:
        features["pattern"] = jnp.where(bad, -1, features["pattern"])
    return features


def run_chunk(program: ChunkProgram, params: dict, trace_rows: jax.Array):
    """Simulate and reduce one chunk. ``params``: ``{name: (chunk_size,)}`` swept values;
    ``trace_rows``: ``(n_trace_slots,)`` rows of the chunk whose trace is returned.

    Returns ``(features, status, num_steps, traces)``: features ``{name: (chunk_size,)}``,
    ``status`` int (0 ok, see :class:`jaxneuron.solvers.status.Status`), ``traces`` float32
    ``(n_trace_slots, n_trace_times)`` (mV).

    Not one jitted program: it calls :func:`jaxneuron.simulate`'s compiled programs (each
    compiled once per sweep, on the CPU runtime :mod:`jaxneuron.solvers.runtime` chooses) and
    small jitted reductions, all dispatched asynchronously. Wrapped in one outer ``jit`` the
    solves ran on the default runtime only (the classic one aborts on the outer program's
    cross-device gathers) and the demo chunk took 14.2 s on 2 cores against 7.5 s.

    For a network program ``params`` are :func:`.network_engine.network_inputs` and the features
    carry a cell (3) or pair (2) axis after the member axis; ``traces`` are ``(n_trace_slots, 3, n_times)``."""
    from .network_engine import NetworkProgram, run_chunk_network

    if isinstance(program, NetworkProgram):
        return run_chunk_network(program, params, trace_rows)
    if program.engine == "queue":
        return _run_chunk_queue(program, params, trace_rows)
    if program.engine == "diffrax":
        return _run_chunk_diffrax(program, params, trace_rows)
    raise ValueError(f"unknown engine {program.engine!r}")


def _simulate(program: ChunkProgram, params: dict, save, engine):
    from .. import simulate

    model, stimulus = _build(program, params)
    return simulate(model, y0=_initial_state(model, program.initial_state), t0=program.t0, t_end=program.t_end,
                    stimulus=stimulus, save=save, solver=program.solver, engine=engine)  # fmt: skip


def _window(program: ChunkProgram):
    """Save the analysed window: V every ``save_dt`` ms from ``t0 + transient`` to ``t_end``."""
    from .. import SaveAt

    return SaveAt(transient=program.transient, save_dt=program.save_dt)


def _run_chunk_diffrax(program: ChunkProgram, params: dict, trace_rows: jax.Array):
    """``engine = "diffrax"``: every member's window (vmapped Diffrax), features by :func:`jaxneuron.activity`."""
    from .. import DiffraxEngine, activity, spike_times

    sol = _simulate(program, params, _window(program), DiffraxEngine())
    V = sol.V.reshape(-1, sol.t.shape[0])
    opts = dict(program.feature_options)
    act = activity(sol.t, V, **opts)
    st = spike_times(sol.t, V, **{k: opts[k] for k in ("threshold", "max_spikes") if k in opts})
    features = _features(program, act, sol.status, st.times, st.count)
    traces = V[trace_rows, :: program.trace_stride].astype(jnp.float32)
    return features, sol.status.reshape(-1), sol.num_steps.reshape(-1), traces


def _run_chunk_queue(program: ChunkProgram, params: dict, trace_rows: jax.Array):
    """``engine = "queue"``: the chunk's members on the work queue (no lock-step) saving spike
    times only, features by :func:`jaxneuron.activity_from_spikes` (``slow_wave_amplitude`` is
    NaN); the kept traces come from a second :func:`jaxneuron.simulate` of the kept rows only."""
    from .. import QueueEngine, SaveAt, activity_from_spikes
    from ..analysis.bursts import CLASSIFY_DEFAULTS

    opts = dict(program.feature_options)
    spike_opts = {k: opts[k] for k in ("threshold", "max_spikes") if k in opts}
    sol = _simulate(program, params, SaveAt(transient=program.transient, states=None, spikes=True, **spike_opts), QueueEngine())
    act = activity_from_spikes(sol, **{k: v for k, v in opts.items() if k in CLASSIFY_DEFAULTS})
    times = sol.spike_times.reshape(-1, sol.spike_times.shape[-1])
    features = _features(program, act, sol.status, times, sol.n_spikes.reshape(-1))
    kept = {n: jnp.asarray(v)[trace_rows] for n, v in params.items()}
    # the kept rows saved every traces.save_dt directly (the window's samples at that stride)
    every = SaveAt(transient=program.transient, save_dt=program.save_dt * program.trace_stride)
    tr = _simulate(program, kept, every, QueueEngine())
    traces = tr.V.reshape(-1, tr.t.shape[0]).astype(jnp.float32)
    return features, sol.status.reshape(-1), sol.num_steps.reshape(-1), traces


def chunk_members(spec: SweepSpec, k: int) -> tuple[np.ndarray, int]:
    """Member indices of chunk ``k`` padded to ``chunk_size`` (repeating its last member), and
    how many of them are real."""
    start = k * spec.chunk_size
    stop = min(start + spec.chunk_size, spec.n_members)
    members = np.arange(start, start + spec.chunk_size, dtype=np.int64)
    return np.minimum(members, stop - 1), stop - start


def trace_slots(spec: SweepSpec) -> int:
    """Fixed number of trace rows per chunk: the most kept members any one chunk holds (>= 1)."""
    kept = spec.trace_members()
    if kept.size == 0:
        return 1
    return int(max(1, np.bincount(kept // spec.chunk_size).max()))


def chunk_trace_rows(spec: SweepSpec, k: int) -> tuple[np.ndarray, slice]:
    """Rows of chunk ``k`` holding kept members (padded to :func:`trace_slots`) and the slice of
    ``trace_member`` they fill."""
    kept = spec.trace_members()
    start = k * spec.chunk_size
    j0, j1 = np.searchsorted(kept, [start, start + spec.chunk_size])
    rows = np.zeros(trace_slots(spec), dtype=np.int64)
    rows[: j1 - j0] = kept[j0:j1] - start
    return rows, slice(int(j0), int(j1))


def chunk_inputs(spec: SweepSpec, k: int):
    """``(params, trace_rows)`` device inputs of chunk ``k`` (parameter values in model units;
    networks: :func:`.network_engine.network_inputs`, with the warm start)."""
    if spec.is_network:
        from .network_engine import network_inputs

        return network_inputs(spec, k)
    members, _ = chunk_members(spec, k)
    values = spec.space.values(members)
    rows, _ = chunk_trace_rows(spec, k)
    return {n: jnp.asarray(v, dtype=float) for n, v in values.items()}, jnp.asarray(rows)


def output_structure(spec: SweepSpec, program: ChunkProgram | None = None):
    """Shapes and dtypes of :func:`run_chunk`'s outputs, without running it (``jax.eval_shape``)."""
    program = chunk_program(spec) if program is None else program
    if spec.is_network:
        from .network_engine import network_inputs

        params, rows = network_inputs(spec, 0, warm=False)  # shapes only: no settling
    else:
        params, rows = chunk_inputs(spec, 0)
    return eqx.filter_eval_shape(run_chunk, program, params, rows)


def trace_times(spec: SweepSpec) -> np.ndarray:
    """Times (ms, on the simulation's clock) of the kept-trace samples: those of the analysed
    window (``t0 + transient + k save_dt <= t_end``, :meth:`jaxneuron.SaveAt.times`) every
    ``traces.save_dt``."""
    from .. import SaveAt

    p = spec.protocol
    t = SaveAt(transient=p.transient, save_dt=p.save_dt).times(p.t0, p.t_end)
    return t[:: int(round(spec.traces_save_dt / p.save_dt))]
