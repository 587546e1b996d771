"""Sweep specification: a TOML file parsed and validated into an immutable :class:`SweepSpec`.

Every mistake is reported before anything is simulated, as a :class:`SweepSpecError` that says
where (file, table, key) and what would be valid. Times are in ms, like everywhere in jaxneuron:
a member is simulated from ``t0 = 0`` to ``t_end = t0 + transient + window``; the ``transient``
is simulated but not analysed, the ``window`` is analysed. Conductances etc. are in the model's
own units (mS/cm^2, uA/cm^2, mV). The schema:

.. code-block:: toml

    description = "what this sweep is for"
    model = "prinz2003"               # hh | prinz2003 | liu1998
    preset = "ptm2003_burster"        # optional: a published conductance set (STG models)
    seed = 0                          # random / quasi-random spaces and the kept-trace sample
    chunk_size = 64                   # members per compiled chunk (memory ~ chunk_size)

    [fixed]                           # values shared by all members (override the preset)
    g_leak = 0.01

    [protocol]                        # all times in ms
    transient = 10000.0               # simulated from t0 = 0, then discarded (default 0)
    window = 10000.0                  # analysed, after the transient (required)
    save_dt = 0.1                     # sampling of the analysed window (default 0.1)
    initial_state = "default"         # or a table of states, e.g. {V = -50.0, Ca = 0.05, m_Na = 0.0}
    stimulus = {kind = "step", amplitude = 5.0, t_on = 100.0}   # optional (constant|step|pulse_train|sine)

    [solver]                          # optional; default: name = "kvaerno5" (rtol = atol = 1e-6), engine = "queue"
    name = "tsit5"                    # kvaerno5 | kvaerno3 | tsit5 | expeuler
    rtol = 1e-6                       # the settings of that solver (ExpEuler: dt, ms)
    atol = 1e-6
    engine = "queue"                  # queue (default): jaxneuron.QueueEngine, no lock-step, features
                                      # from spike times (slow_wave_amplitude NaN); diffrax: vmapped
                                      # diffrax.diffeqsolve, features from every member's trace

    [features]
    names = ["burst_period", "duty_cycle"]   # default: every feature of jaxneuron.activity
    options = {}                      # keyword options of jaxneuron.activity

    [traces]
    keep = 32                         # analysed windows kept, for a seeded sample of members
    # members = [0, 17, 42]           # ... or for these members
    save_dt = 0.5                     # sampling of kept traces, ms (a multiple of protocol.save_dt)

    [space]
    kind = "grid"                     # grid | random | lhs | sobol | table
    # n = 4096                        # random | lhs | sobol
    # file = "members.csv"            # table: one column per parameter (path relative to this file)
    [space.axes]
    g_CaS = {linspace = [0.0, 10.0, 16]}        # grid: values | linspace | logspace [start, stop, num]
    g_KCa = {values = [0.0, 5.0, 10.0]}
    # g_H = {loguniform = [0.001, 0.1]}         # random/lhs/sobol: uniform | loguniform [low, high]
    # "stimulus.amplitude" = {linspace = [0, 20, 41]}   # stimulus fields are swept as stimulus.NAME

    # [cluster]                       # optional: SLURM jobs for --dask slurm (jaxneuron.survey.cluster)

Keys renamed since the first schema (``transient_ms``, ``window_ms``, ``save_dt_ms``; engine
``"vmap"``) are refused with the new name.

Network models (``model = "pyloric2004"``) take cell slots, synapse strengths and cell
conductances as parameters, a warm start and rhythm features: see :mod:`.network`. The
``[protocol]``, ``[solver]``, ``[features]`` and ``[traces]`` tables are parsed in :mod:`.sections`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
from typing import Any

import numpy as np

from . import network as net
from ._validate import SweepSpecError, check_keys, fail, number
from .cluster import check_cluster_table
from .sections import (DEFAULT_ENGINE, DEFAULT_SOLVER, ENGINES, STIMULI, Protocol, pairs, parse_features,  # noqa: F401
                       parse_protocol, parse_solver, parse_traces, required_stimulus_fields, stimulus_classes, stimulus_fields)
from .space import parse_space

__all__ = ["SweepSpec", "SweepSpecError", "load_spec", "parse_spec", "STIMULI", "ENGINES", "DEFAULT_SOLVER", "DEFAULT_ENGINE", "stimulus_classes"]

_TOP = ("description", "model", "preset", "seed", "chunk_size", "fixed", "protocol", "solver", "features", "traces", "space", "cluster")

SCHEMA = 2
"""Version of the canonical spec stored in a database (1: the ``*_ms`` keys and the ``vmap`` engine)."""
_pairs = pairs


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A validated sweep. Build with :func:`load_spec` (file) or :func:`parse_spec` (text)."""

    model: str
    preset: str | None
    fixed: tuple[tuple[str, float], ...]
    protocol: Protocol
    solver_name: str
    solver_options: tuple[tuple[str, Any], ...]
    feature_names: tuple[str, ...]
    feature_options: tuple[tuple[str, Any], ...]
    traces_keep: int
    traces_members: tuple[int, ...] | None
    traces_save_dt: float
    space: Any  # GridSpace | SampledSpace | TableSpace
    seed: int
    chunk_size: int
    engine: str = DEFAULT_ENGINE
    rhythm_options: tuple[tuple[str, Any], ...] = ()  # network models: rhythm criteria (spec 3.6)
    description: str = ""
    text: str = ""
    path: str | None = None

    @property
    def model_class(self):
        from ..models import get_model_class

        return get_model_class(self.model)

    @property
    def is_network(self) -> bool:
        """A network model (:mod:`.network`): cell slots, synapses, rhythm features."""
        return net.is_network_model(self.model_class)

    @property
    def n_members(self) -> int:
        return self.space.n_members

    @property
    def n_chunks(self) -> int:
        return -(-self.n_members // self.chunk_size)

    def solver(self):
        from ..solvers import SOLVERS

        return SOLVERS[self.solver_name](**dict(self.solver_options))

    def model_parameters(self) -> dict[str, float]:
        """Fixed model parameters: preset conductances, then ``[fixed]`` (mS/cm^2 and model units).
        Networks: :func:`.network.model_arguments` (cells by name or conductances, nS, overrides)."""
        if self.is_network:
            return net.model_arguments(self)
        params = {}
        if self.preset is not None:
            params.update(zip(self.model_class.conductance_names, _presets()[self.preset]))
        params.update(dict(self.fixed))
        return params

    def trace_members(self) -> np.ndarray:
        """Sorted member indices whose analysed window is stored (seeded sample, or explicit)."""
        if self.traces_members is not None:
            return np.asarray(self.traces_members, dtype=np.int64)
        return _sample_members(self.seed, self.n_members, min(self.traces_keep, self.n_members))

    def canonical(self) -> dict:
        """Everything that determines the results (JSON-able); ``chunk_size`` and text excluded."""
        p = self.protocol
        init = p.initial_state if p.initial_state is None or isinstance(p.initial_state, str) else dict(p.initial_state)
        out = {
            "schema": SCHEMA, "model": self.model_class.__name__, "preset": self.preset, "fixed": dict(self.fixed),
            "protocol": {"t0": p.t0, "transient": p.transient, "window": p.window, "save_dt": p.save_dt,
                         "stimulus": None if p.stimulus_kind is None else {"kind": p.stimulus_kind, **dict(p.stimulus_fixed)},
                         "initial_state": init},
            "solver": {"name": self.solver_name, **dict(self.solver_options), "engine": self.engine},
            "features": {"names": list(self.feature_names), "options": dict(self.feature_options)},
            "traces": {"members": [int(i) for i in self.trace_members()], "save_dt": self.traces_save_dt},
            "space": self.space.canonical(), "seed": self.seed,
        }  # fmt: skip
        if self.is_network:
            out["protocol"]["t_settle"] = p.t_settle
            out["features"]["rhythm"] = dict(self.rhythm_options)
            out.update(net.canonical_extra(self))
        return out

    def describe(self) -> str:
        """What the sweep would run (``jaxneuron sweep SPEC --dry-run``): model, size, space,
        protocol, solver, features, traces; nothing is simulated."""
        p = self.protocol
        lines = [f"{self.path or '<sweep spec>'}: {self.description}".rstrip(": "),
                 f"model: {self.model_class.__name__}" + (f" (preset {self.preset})" if self.preset else ""),
                 f"members: {self.n_members:,} in {self.n_chunks:,} chunks of {self.chunk_size:,}",
                 "space: " + self.space.describe()]  # fmt: skip
        if self.fixed:
            lines.append("fixed: " + ", ".join(f"{k} = {v}" for k, v in self.fixed))
        start = {None: "default_y0()", "cold": "cold (default_y0())"}.get(p.initial_state, p.initial_state)
        if p.initial_state == "warm":
            start = f"warm (each cell settled alone for {p.t_settle:g} ms, synaptic s = 0)"
        elif isinstance(p.initial_state, tuple):
            start = ", ".join(f"{k} = {v:g}" for k, v in p.initial_state)
        stim = "none" if p.stimulus_kind is None else f"{p.stimulus_kind} {dict(p.stimulus_fixed)}"
        lines += [f"protocol: {p.t0:g} -> {p.t_end:g} ms per member ({p.transient:g} ms transient, {p.window:g} ms analysed); "
                  f"initial state: {start}; stimulus: {stim}",
                  f"simulated time: {self.n_members * (p.t_end - p.t0) / 1000.0:,.0f} s in all",
                  f"solver: {self.solver_name} {dict(self.solver_options)} on the {self.engine} engine",
                  f"features: {', '.join(self.feature_names)}" + (f"; rhythm criteria {dict(self.rhythm_options)}" if self.rhythm_options else ""),
                  f"kept traces: {self.trace_members().size} members every {self.traces_save_dt:g} ms"]  # fmt: skip
        return "\n".join(lines)

    def with_chunk_size(self, chunk_size: int) -> SweepSpec:
        """The same sweep in chunks of ``chunk_size`` members (at most the number of members)."""
        number(chunk_size, "chunk_size", positive=True, integer=True)
        return dataclasses.replace(self, chunk_size=min(int(chunk_size), self.n_members))


@functools.lru_cache(maxsize=8)
def _sample_members(seed: int, n: int, k: int) -> np.ndarray:
    """``k`` distinct members of ``n``, sorted; a pure function of the seed (read-only)."""
    out = np.sort(np.random.default_rng([seed, 1]).choice(n, size=k, replace=False)).astype(np.int64)
    out.setflags(write=False)
    return out


def _presets():
    from ..models import PRINZ2003_SETS, PRINZ2004_CELLS

    return {**PRINZ2003_SETS, **PRINZ2004_CELLS}


def load_spec(path) -> SweepSpec:
    """Read and validate the sweep TOML file at ``path``."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SweepSpecError(f"cannot read sweep file {path!r}: {e.strerror}") from None
    return parse_spec(text, path=path)


def parse_spec(text: str, *, path: str | None = None) -> SweepSpec:
    """Validate sweep TOML ``text``; ``path`` names the file in messages and anchors table files."""
    name = path or "<sweep spec>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SweepSpecError(f"{name}: malformed TOML: {e}") from None
    try:
        return _parse(raw, text, path)
    except SweepSpecError as e:
        raise SweepSpecError(f"{name}: {e}") from None


def _parse(raw, text, path) -> SweepSpec:
    from ..models import get_model_class

    check_keys(raw, _TOP, "top level")
    check_cluster_table(raw.get("cluster"))  # used by --dask slurm only (.cluster); not part of the results
    for key in ("model", "space"):
        if key not in raw:
            fail("top level", f"missing required key {key!r}")
    if not isinstance(raw["model"], str):
        fail("model", f"expected a model name, got {raw['model']!r}")
    try:
        cls = get_model_class(raw["model"])
    except ValueError as e:
        fail("model", str(e))
    network = net.is_network_model(cls)
    seed = number(raw.get("seed", 0), "seed", minimum=0, integer=True)
    chunk_size = number(raw.get("chunk_size", 64), "chunk_size", positive=True, integer=True)
    preset, fixed = net.parse_fixed(raw) if network else _parse_cell_fixed(raw, cls)
    protocol = parse_protocol(raw.get("protocol", {}), cls, network=network)
    solver_name, solver_options, engine = parse_solver(raw.get("solver", {}))
    if network and engine != "queue":
        fail("solver.engine", f"network sweeps run on the queue engine (spike times of every cell); got {engine!r}")
    feature_names, feature_options, rhythm_options = parse_features(raw.get("features", {}), network=network)
    base_dir = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    space = parse_space(raw["space"], seed, base_dir, categorical=net.categories() if network else None)
    swept = set(space.names)
    stim_fields = stimulus_fields(protocol.stimulus_kind or "constant")
    for n in space.names:
        if n.startswith("stimulus."):
            field = n.split(".", 1)[1]
            if field not in stim_fields:
                fail(f"space.axes.{n}", f"stimulus {protocol.stimulus_kind or 'constant'!r} has no swept field {field!r}; valid: {', '.join('stimulus.' + f for f in stim_fields)}")
    if network:
        net.check_axes(space)
    else:
        _check_cell_axes(space, cls)
    both = sorted(swept & set(dict(fixed)))
    if both:
        fail("fixed", f"parameter(s) {both} are both fixed and swept")
    if protocol.stimulus_kind is None and any(n.startswith("stimulus.") for n in swept):
        protocol = dataclasses.replace(protocol, stimulus_kind="constant")
    stim_missing = required_stimulus_fields(protocol.stimulus_kind) - set(dict(protocol.stimulus_fixed)) - {n.split(".", 1)[1] for n in swept if n.startswith("stimulus.")}
    if stim_missing:
        fail("protocol.stimulus", f"missing {sorted(stim_missing)} for a {protocol.stimulus_kind!r} stimulus")
    keep, members, tr_dt = parse_traces(raw.get("traces", {}), protocol, space.n_members)
    chunk_size = min(chunk_size, space.n_members)
    return SweepSpec(
        model=raw["model"].lower(), preset=preset, fixed=fixed,
        protocol=protocol, solver_name=solver_name, solver_options=solver_options, engine=engine, feature_names=feature_names,
        feature_options=feature_options, rhythm_options=rhythm_options, traces_keep=keep, traces_members=members,
        traces_save_dt=tr_dt, space=space, seed=seed, chunk_size=chunk_size, description=str(raw.get("description", "")),
        text=text, path=path,
    )  # fmt: skip


def _parse_cell_fixed(raw, cls):
    """``preset`` (a published conductance set) and ``[fixed]`` of a single-cell sweep."""
    from ..models import parameter_info

    pinfo = parameter_info(cls)
    preset = raw.get("preset")
    if preset is not None:
        presets = _presets()
        if len(getattr(cls, "conductance_names", ())) != 8:
            fail("preset", f"model {raw['model']!r} has no published presets")
        if preset not in presets:
            fail("preset", f"unknown preset {preset!r}; valid presets: {', '.join(presets)}")
    fixed = raw.get("fixed", {})
    check_keys(fixed, tuple(pinfo), "[fixed] (parameters of " + cls.__name__ + ")")
    for k, v in fixed.items():
        _check_value(k, number(v, f"fixed.{k}"), pinfo[k], f"fixed.{k}")
    return preset, _pairs({k: float(v) for k, v in fixed.items()})


def _check_cell_axes(space, cls):
    from ..models import parameter_info

    pinfo = parameter_info(cls)
    for n in space.names:
        if n.startswith("stimulus."):
            continue
        if n not in pinfo:
            fail(f"space.axes.{n}", f"unknown parameter {n!r} for {cls.__name__}; valid parameters: {', '.join(pinfo)}, or stimulus.FIELD")
        low, _ = space.bounds()[n]
        _check_value(n, low, pinfo[n], f"space.axes.{n}")


def _check_value(name, value, info, where):
    """Range check of one model parameter value against its declared bounds."""
    unit = info["unit"]
    if info["positive"] and not value > 0:
        fail(where, f"{name} must be > 0 {unit}, got {value!r}")
    if info["minimum"] is not None and value < info["minimum"]:
        what = "negative conductance: " if unit == "mS/cm^2" else ""
        fail(where, f"{what}{name} must be >= {info['minimum']:g} {unit}, got {value!r}")
