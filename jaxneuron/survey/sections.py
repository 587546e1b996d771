"""Parsers of the ``[protocol]``, ``[solver]``, ``[features]`` and ``[traces]`` tables of a sweep
file (see :mod:`.spec` for the schema, :mod:`.network` for what network models add).

Times are in ms. Every error names the table and key and says what would be valid.
"""

from __future__ import annotations

import dataclasses

from ._validate import check_keys, fail, number

__all__ = ["Protocol", "STIMULI", "ENGINES", "DEFAULT_SOLVER", "DEFAULT_ENGINE", "stimulus_classes", "parse_protocol",
           "parse_solver", "parse_features", "parse_traces", "stimulus_fields", "required_stimulus_fields", "pairs"]  # fmt: skip

STIMULI = ("constant", "step", "pulse_train", "sine")
_PROTOCOL = ("transient", "window", "save_dt", "initial_state", "stimulus")
_NETWORK_PROTOCOL = _PROTOCOL + ("t_settle",)
_FEATURES = ("names", "options")
_NETWORK_FEATURES = _FEATURES + ("rhythm",)
_TRACES = ("keep", "members", "save_dt")
_RENAMED = {"transient_ms": "transient", "window_ms": "window", "save_dt_ms": "save_dt"}
"""Keys of the first schema (``[protocol]``, ``[traces]``) and their names now (all in ms)."""

ENGINES = ("queue", "diffrax")
"""``[solver] engine``: ``queue`` (:class:`jaxneuron.QueueEngine`: no lock-step between members,
features from spike times) or ``diffrax`` (:class:`jaxneuron.DiffraxEngine`: vmapped
``diffrax.diffeqsolve``, every member's trace, features by :func:`jaxneuron.activity`)."""
DEFAULT_SOLVER = "kvaerno5"
DEFAULT_ENGINE = "queue"

NETWORK_STARTS = ("warm", "cold")
"""``[protocol] initial_state`` of a network sweep: ``warm`` (Prinz et al. 2004: each cell settled
alone for ``t_settle`` ms, synaptic activations 0) or ``cold`` (the model's ``default_y0()``)."""
NETWORK_DEFAULTS = dict(transient=1000.0, window=10000.0, t_settle=20000.0)
"""Protocol defaults of a network sweep (ms; spec 3.5: 11 s simulated, the first 1 s not analysed;
Prinz's warm start settles each cell alone for 20 s)."""


def stimulus_classes():
    from .. import stimulus as s

    return {"constant": s.Constant, "step": s.Step, "pulse_train": s.PulseTrain, "sine": s.Sine}


def pairs(d):
    return tuple(sorted(d.items()))


@dataclasses.dataclass(frozen=True)
class Protocol:
    """``transient`` (ms, simulated from ``t0`` then discarded), analysed ``window`` (ms) and its
    sampling ``save_dt`` (ms), stimulus, initial state. ``t_end = t0 + transient + window``.

    ``initial_state``: cells: ``None`` (the model's ``default_y0()``) or ``((state, value), ...)``;
    networks: ``"warm"`` or ``"cold"`` (:data:`NETWORK_STARTS`), ``t_settle`` (ms) for ``"warm"``."""

    transient: float
    window: float
    save_dt: float
    stimulus_kind: str | None
    stimulus_fixed: tuple[tuple[str, float], ...]
    initial_state: tuple[tuple[str, float], ...] | str | None  # None: the model's default_y0()
    t_settle: float | None = None

    t0 = 0.0
    """Start of every member's simulation (ms); stimulus times are on the same clock."""

    @property
    def t_end(self) -> float:
        return self.t0 + self.transient + self.window


def stimulus_fields(kind) -> tuple[str, ...]:
    """Per-member (sweepable) fields of a stimulus kind."""
    return tuple(f.name for f in dataclasses.fields(stimulus_classes()[kind]) if f.metadata.get("batch") == 0)


def required_stimulus_fields(kind) -> set[str]:
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


def parse_protocol(table, cls, *, network: bool = False) -> Protocol:
    """``[protocol]``; for a network model the defaults of :data:`NETWORK_DEFAULTS` and the warm start."""
    _check_renamed(table, "protocol")
    check_keys(table, _NETWORK_PROTOCOL if network else _PROTOCOL, "[protocol]")
    transient = number(table.get("transient", NETWORK_DEFAULTS["transient"] if network else 0.0), "protocol.transient", minimum=0.0)
    if "window" not in table and not network:
        fail("[protocol]", "missing required key 'window' (analysed duration after the transient, ms)")
    window = number(table.get("window", NETWORK_DEFAULTS["window"]), "protocol.window", positive=True)
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
            classes[kind](**{k: v for k, v in stim.items()}, **{k: 0.0 for k in required_stimulus_fields(kind) - set(stim)})
        except (ValueError, TypeError) as e:
            fail("protocol.stimulus", str(e))
        stim_fixed = pairs(stim)
    if network:
        init, t_settle = _network_start(table)
        return Protocol(float(transient), float(window), float(save_dt), kind, stim_fixed, init, t_settle)
    init = table.get("initial_state", "default")
    if init == "default":
        init = None
    elif isinstance(init, dict):
        check_keys(init, cls.state_names, "protocol.initial_state (state names)")
        init = pairs({k: float(number(v, f"protocol.initial_state.{k}")) for k, v in init.items()})
    else:
        fail("protocol.initial_state", f"expected \"default\" or a table of states {cls.state_names}, got {init!r}")
    return Protocol(float(transient), float(window), float(save_dt), kind, stim_fixed, init)


def _network_start(table) -> tuple[str, float | None]:
    init = table.get("initial_state", "warm")
    if init not in NETWORK_STARTS:
        fail("protocol.initial_state", f"a network starts \"warm\" (Prinz et al. 2004: each cell settled alone for "
                                       f"t_settle ms, synapses s = 0) or \"cold\" (default_y0()), got {init!r}")  # fmt: skip
    if init == "cold":
        if "t_settle" in table:
            fail("protocol.t_settle", "only a warm start settles the cells (initial_state = \"warm\")")
        return "cold", None
    return "warm", float(number(table.get("t_settle", NETWORK_DEFAULTS["t_settle"]), "protocol.t_settle", positive=True))


def parse_solver(table) -> tuple[str, tuple, str]:
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
    return name, pairs(opts), engine


def parse_features(table, *, network: bool = False) -> tuple[tuple[str, ...], tuple, tuple]:
    """``[features]`` -> ``(names, activity options, rhythm options)``. Networks also take the
    rhythm features (:data:`.network.RHYTHM_FEATURES`) and ``rhythm = {...}`` (the criteria of
    :data:`jaxneuron.analysis.rhythm.RHYTHM_DEFAULTS`)."""
    import inspect

    from ..analysis import Activity, activity

    check_keys(table, _NETWORK_FEATURES if network else _FEATURES, "[features]")
    from ..analysis.patterns import PATTERN_FEATURES

    valid = tuple(Activity.feature_names)
    default = list(valid)
    if network:
        from .network import RHYTHM_FEATURES

        valid = valid + tuple(RHYTHM_FEATURES)
        default = list(valid)
    else:  # firing patterns of a step response: on request (not in the default set)
        valid = valid + PATTERN_FEATURES
    names = table.get("names", default)
    if not isinstance(names, list) or not names:
        fail("features.names", f"expected a non-empty list of feature names; valid: {', '.join(valid)}")
    unknown = [n for n in names if n not in valid]
    if unknown:
        fail("features.names", f"unknown feature(s) {unknown}; valid features: {', '.join(valid)}")
    options = table.get("options", {})
    params = inspect.signature(activity).parameters
    kw = [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
    check_keys(options, kw, "features.options (keyword options of jaxneuron.activity)")
    rhythm = ()
    if network:
        from ..analysis.rhythm import RHYTHM_DEFAULTS, _check_options

        opts = table.get("rhythm", {})
        check_keys(opts, tuple(RHYTHM_DEFAULTS), "features.rhythm (criteria of jaxneuron.analysis.rhythm, spec 3.6)")
        try:
            _check_options(opts)
        except ValueError as e:
            fail("features.rhythm", str(e))
        rhythm = pairs(opts)
    return tuple(dict.fromkeys(names)), pairs(options), rhythm


def parse_traces(table, protocol, n_members):
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
