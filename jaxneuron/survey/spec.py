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

Keys renamed since the first schema (``transient_ms``, ``window_ms``, ``save_dt_ms``; engine
``"vmap"``) are refused with the new name.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
from typing import Any

import numpy as np

from ._validate import SweepSpecError, check_keys, fail, number
from .space import parse_space

__all__ = ["SweepSpec", "SweepSpecError", "load_spec", "parse_spec", "STIMULI", "ENGINES", "DEFAULT_SOLVER", "DEFAULT_ENGINE"]


def stimulus_classes():
    from .. import stimulus as s

    return {"constant": s.Constant, "step": s.Step, "pulse_train": s.PulseTrain, "sine": s.Sine}


STIMULI = ("constant", "step", "pulse_train", "sine")
_TOP = ("description", "model", "preset", "seed", "chunk_size", "fixed", "protocol", "solver", "features", "traces", "space")
_PROTOCOL = ("transient", "window", "save_dt", "initial_state", "stimulus")
_FEATURES = ("names", "options")
_TRACES = ("keep", "members", "save_dt")
_RENAMED = {"transient_ms": "transient", "window_ms": "window", "save_dt_ms": "save_dt"}
"""Keys of the first schema (``[protocol]``, ``[traces]``) and their names now (all in ms)."""

SCHEMA = 2
"""Version of the canonical spec stored in a database (1: the ``*_ms`` keys and the ``vmap`` engine)."""
ENGINES = ("queue", "diffrax")
"""``[solver] engine``: ``queue`` (:class:`jaxneuron.QueueEngine`: no lock-step between members,
features from spike times) or ``diffrax`` (:class:`jaxneuron.DiffraxEngine`: vmapped
``diffrax.diffeqsolve``, every member's trace, features by :func:`jaxneuron.activity`)."""
DEFAULT_SOLVER = "kvaerno5"
DEFAULT_ENGINE = "queue"


def _pairs(d):
    return tuple(sorted(d.items()))


@dataclasses.dataclass(frozen=True)
class Protocol:
    """``transient`` (ms, simulated from ``t0`` then discarded), analysed ``window`` (ms) and its
    sampling ``save_dt`` (ms), stimulus, initial state. ``t_end = t0 + transient + window``."""

    transient: float
    window: float
    save_dt: float
    stimulus_kind: str | None
    stimulus_fixed: tuple[tuple[str, float], ...]
    initial_state: tuple[tuple[str, float], ...] | None  # None: the model's default_y0()

    t0 = 0.0
    """Start of every member's simulation (ms); stimulus times are on the same clock."""

    @property
    def t_end(self) -> float:
        return self.t0 + self.transient + self.window


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
    description: str = ""
    text: str = ""
    path: str | None = None

    @property
    def model_class(self):
        from ..models import get_model_class

        return get_model_class(self.model)

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
        """Fixed model parameters: preset conductances, then ``[fixed]`` (mS/cm^2 and model units)."""
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
        return {
            "schema": SCHEMA, "model": self.model_class.__name__, "preset": self.preset, "fixed": dict(self.fixed),
            "protocol": {"t0": p.t0, "transient": p.transient, "window": p.window, "save_dt": p.save_dt,
                         "stimulus": None if p.stimulus_kind is None else {"kind": p.stimulus_kind, **dict(p.stimulus_fixed)},
                         "initial_state": None if p.initial_state is None else dict(p.initial_state)},
            "solver": {"name": self.solver_name, **dict(self.solver_options), "engine": self.engine},
            "features": {"names": list(self.feature_names), "options": dict(self.feature_options)},
            "traces": {"members": [int(i) for i in self.trace_members()], "save_dt": self.traces_save_dt},
            "space": self.space.canonical(), "seed": self.seed,
        }  # fmt: skip

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
    from ..models import get_model_class, parameter_info

    check_keys(raw, _TOP, "top level")
    for key in ("model", "space"):
        if key not in raw:
            fail("top level", f"missing required key {key!r}")
    if not isinstance(raw["model"], str):
        fail("model", f"expected a model name, got {raw['model']!r}")
    try:
        cls = get_model_class(raw["model"])
    except ValueError as e:
        fail("model", str(e))
    pinfo = parameter_info(cls)
    seed = number(raw.get("seed", 0), "seed", minimum=0, integer=True)
    chunk_size = number(raw.get("chunk_size", 64), "chunk_size", positive=True, integer=True)
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
    protocol = _parse_protocol(raw.get("protocol", {}), cls)
    solver_name, solver_options, engine = _parse_solver(raw.get("solver", {}))
    feature_names, feature_options = _parse_features(raw.get("features", {}))
    base_dir = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    space = parse_space(raw["space"], seed, base_dir)
    swept = set(space.names)
    stim_fields = _stimulus_fields(protocol.stimulus_kind or "constant")
    for n in space.names:
        if n.startswith("stimulus."):
            field = n.split(".", 1)[1]
            if field not in stim_fields:
                fail(f"space.axes.{n}", f"stimulus {protocol.stimulus_kind or 'constant'!r} has no swept field {field!r}; valid: {', '.join('stimulus.' + f for f in stim_fields)}")
        elif n not in pinfo:
            fail(f"space.axes.{n}", f"unknown parameter {n!r} for {cls.__name__}; valid parameters: {', '.join(pinfo)}, or stimulus.FIELD")
        else:
            low, _ = space.bounds()[n]
            _check_value(n, low, pinfo[n], f"space.axes.{n}")
    both = sorted(swept & set(fixed))
    if both:
        fail("fixed", f"parameter(s) {both} are both fixed and swept")
    if protocol.stimulus_kind is None and any(n.startswith("stimulus.") for n in swept):
        protocol = dataclasses.replace(protocol, stimulus_kind="constant")
    stim_missing = _required_stimulus_fields(protocol.stimulus_kind) - set(dict(protocol.stimulus_fixed)) - {n.split(".", 1)[1] for n in swept if n.startswith("stimulus.")}
    if stim_missing:
        fail("protocol.stimulus", f"missing {sorted(stim_missing)} for a {protocol.stimulus_kind!r} stimulus")
    keep, members, tr_dt = _parse_traces(raw.get("traces", {}), protocol, space.n_members)
    chunk_size = min(chunk_size, space.n_members)
    return SweepSpec(
        model=raw["model"].lower(), preset=preset, fixed=_pairs({k: float(v) for k, v in fixed.items()}),
        protocol=protocol, solver_name=solver_name, solver_options=solver_options, engine=engine, feature_names=feature_names,
        feature_options=feature_options, traces_keep=keep, traces_members=members, traces_save_dt=tr_dt,
        space=space, seed=seed, chunk_size=chunk_size, description=str(raw.get("description", "")), text=text, path=path,
    )  # fmt: skip


def _check_value(name, value, info, where):
    """Range check of one model parameter value against its declared bounds."""
    unit = info["unit"]
    if info["positive"] and not value > 0:
        fail(where, f"{name} must be > 0 {unit}, got {value!r}")
    if info["minimum"] is not None and value < info["minimum"]:
        what = "negative conductance: " if unit == "mS/cm^2" else ""
        fail(where, f"{what}{name} must be >= {info['minimum']:g} {unit}, got {value!r}")


def _stimulus_fields(kind) -> tuple[str, ...]:
    """Per-member (sweepable) fields of a stimulus kind."""
    return tuple(f.name for f in dataclasses.fields(stimulus_classes()[kind]) if f.metadata.get("batch") == 0)


def _required_stimulus_fields(kind) -> set[str]:
    if kind is None:
        return set()
    cls = stimulus_classes()[kind]
    return {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}


def _check_renamed(table, where):
    """An old (first-schema) key in ``table`` is an error that gives its new name."""
    if isinstance(table, dict):
        for old, new in _RENAMED.items():
            if old in table:
                fail(f"{where}.{old}", f"renamed: use `{new}` (ms)")


def _parse_protocol(table, cls) -> Protocol:
    _check_renamed(table, "protocol")
    check_keys(table, _PROTOCOL, "[protocol]")
    transient = number(table.get("transient", 0.0), "protocol.transient", minimum=0.0)
    if "window" not in table:
        fail("[protocol]", "missing required key 'window' (analysed duration after the transient, ms)")
    window = number(table["window"], "protocol.window", positive=True)
    save_dt = number(table.get("save_dt", 0.1), "protocol.save_dt", positive=True)
    if save_dt > window:
        fail("protocol.save_dt", f"{save_dt} ms is longer than the analysed window ({window} ms)")
    kind, stim_fixed = None, ()
    if "stimulus" in table:
        stim = dict(table["stimulus"]) if isinstance(table["stimulus"], dict) else fail("protocol.stimulus", "expected a table such as {kind = \"step\", amplitude = 5.0, t_on = 100.0}")
        kind = stim.pop("kind", "constant")
        classes = stimulus_classes()
        if kind not in classes:
            fail("protocol.stimulus.kind", f"unknown stimulus {kind!r}; valid kinds: {', '.join(classes)}")
        valid = tuple(f.name for f in dataclasses.fields(classes[kind]))
        check_keys(stim, valid, f"protocol.stimulus ({kind})")
        for k, v in stim.items():
            number(v, f"protocol.stimulus.{k}", integer=(k == "n_pulses"))
        try:
            classes[kind](**{k: v for k, v in stim.items()}, **{k: 0.0 for k in _required_stimulus_fields(kind) - set(stim)})
        except (ValueError, TypeError) as e:
            fail("protocol.stimulus", str(e))
        stim_fixed = _pairs(stim)
    init = table.get("initial_state", "default")
    if init == "default":
        init = None
    elif isinstance(init, dict):
        check_keys(init, cls.state_names, "protocol.initial_state (state names)")
        init = _pairs({k: float(number(v, f"protocol.initial_state.{k}")) for k, v in init.items()})
    else:
        fail("protocol.initial_state", f"expected \"default\" or a table of states {cls.state_names}, got {init!r}")
    return Protocol(float(transient), float(window), float(save_dt), kind, stim_fixed, init)


def _parse_solver(table) -> tuple[str, tuple, str]:
    """``[solver]`` -> ``(name, options, engine)``; every key is optional (defaults: Kvaerno5 at
    rtol = atol = 1e-6 on the queue engine)."""
    from ..solvers import SOLVERS

    if not isinstance(table, dict):
        fail("[solver]", f"expected a table such as {{name = \"{DEFAULT_SOLVER}\", rtol = 1e-6}}, got {table!r}")
    opts = dict(table)
    name = opts.pop("name", DEFAULT_SOLVER)
    if not isinstance(name, str) or name.lower() not in SOLVERS:
        fail("solver.name", f"unknown solver {name!r}; valid solvers: {', '.join(SOLVERS)}")
    name = name.lower()
    engine = opts.pop("engine", DEFAULT_ENGINE)
    if engine not in ENGINES:
        hint = " (the engine once called \"vmap\" is now \"diffrax\")" if engine == "vmap" else ""
        fail("solver.engine", f"unknown engine {engine!r}; valid engines: {', '.join(ENGINES)}{hint}")
    cls = SOLVERS[name]
    valid = tuple(f.name for f in dataclasses.fields(cls))
    check_keys(opts, valid, f"[solver] ({cls.__name__})")
    try:
        cls(**opts)
    except (ValueError, TypeError) as e:
        fail("[solver]", str(e))
    return name, _pairs(opts), engine


def _parse_features(table) -> tuple[tuple[str, ...], tuple]:
    import inspect

    from ..analysis import Activity, activity

    check_keys(table, _FEATURES, "[features]")
    valid = tuple(Activity.feature_names)
    names = table.get("names", list(valid))
    if not isinstance(names, list) or not names:
        fail("features.names", f"expected a non-empty list of feature names; valid: {', '.join(valid)}")
    unknown = [n for n in names if n not in valid]
    if unknown:
        fail("features.names", f"unknown feature(s) {unknown}; valid features: {', '.join(valid)}")
    options = table.get("options", {})
    params = inspect.signature(activity).parameters
    kw = [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
    check_keys(options, kw, "features.options (keyword options of jaxneuron.activity)")
    return tuple(dict.fromkeys(names)), _pairs(options)


def _parse_traces(table, protocol, n_members):
    _check_renamed(table, "traces")
    check_keys(table, _TRACES, "[traces]")
    keep = number(table.get("keep", 16), "traces.keep", minimum=0, integer=True)
    members = table.get("members")
    if members is not None:
        if not isinstance(members, list) or not all(isinstance(m, int) and not isinstance(m, bool) for m in members):
            fail("traces.members", f"expected a list of member indices, got {members!r}")
        bad = [m for m in members if not 0 <= m < n_members]
        if bad:
            fail("traces.members", f"member indices {bad} out of range 0..{n_members - 1}")
        members = tuple(sorted(set(members)))
    dt = number(table.get("save_dt", protocol.save_dt), "traces.save_dt", positive=True)
    stride = dt / protocol.save_dt
    if abs(stride - round(stride)) > 1e-9 or round(stride) < 1:
        fail("traces.save_dt", f"must be a whole multiple of protocol.save_dt = {protocol.save_dt} ms, got {dt}")
    return keep, members, float(dt)


