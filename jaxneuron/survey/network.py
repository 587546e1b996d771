"""Network sweeps: the pyloric circuit of Prinz, Bucher & Marder 2004 (``model = "pyloric2004"``,
:class:`jaxneuron.Pyloric2004`; spec sections 3.1-3.6).

A member is one network: three cells (slots ``ab_pd``, ``lp``, ``py``) and seven synapse
strengths. What a network sweep file adds to the schema of :mod:`.spec`:

.. code-block:: toml

    model = "pyloric2004"
    preset = "fig2e"                  # optional: a network of jaxneuron.PYLORIC_EXAMPLES (fig2e, osb_fig3);
                                      # without it, Pyloric2004's defaults (the fig2e network)
    [fixed]
    ab_pd = "AB/PD 1"                 # a cell slot: a Prinz 2004 cell name (jaxneuron.PRINZ2004_CELLS)
    # py = [100, 2.5, 2, 50, 0, 125, 0.05, 0.01]   # ... or its 8 conductances (mS/cm^2; Na, CaT, CaS,
                                      #     A, KCa, Kd, H, leak: jaxneuron.STG_CONDUCTANCES)
    g_PY_LP = 10.0                    # a synapse strength (nS, total)
    "ab_pd.g_H" = 0.02                # one conductance of a cell (mS/cm^2; quoted: "slot.g_X"),
                                      # replacing that of the cell named for the slot

    [protocol]                        # defaults (spec 3.5): 11 s simulated, the first 1 s not analysed
    transient = 1000.0                # ms (default 1000)
    window = 10000.0                  # ms (default 10000)
    initial_state = "warm"            # "warm" (default): Prinz et al. 2004, each cell settled alone for
                                      # t_settle ms, then every synaptic s = 0; "cold": default_y0()
    t_settle = 20000.0                # ms (default 20000; warm start only)

    [features]                        # default: every activity feature (per cell) and rhythm feature
    names = ["cycle_period", "duty_cycles", "label"]
    options = {threshold = -10.0}     # jaxneuron.activity options; threshold and max_spikes also set
                                      # the spike recording (SaveAt) the rhythm analysis uses
    rhythm = {burst_isi = 150.0}      # rhythm criteria (jaxneuron.analysis.rhythm.RHYTHM_DEFAULTS)

    [space.axes]
    g_LP_PD = {values = [0, 3, 10, 30, 100]}   # a synapse strength (nS): any numeric rule
    lp = {values = ["LP 1", "LP 4"]}            # a cell slot by name, or lp = "all" (LP 1 .. LP 5)
    "py.g_CaT" = {linspace = [0, 10, 5]}        # a conductance of one cell (mS/cm^2)

A table space reads the same names from its CSV header: a slot column holds cell names
(``lp`` -> ``LP 4``), conductance columns ``lp.g_Na`` ... ``lp.g_leak`` give cells by their
conductances (columns not given come from the slot's fixed cell).

The warm start settles every distinct cell once per process when the cells are named or come from
a grid (a cache keyed by the conductances, ``t_settle`` and solver; each cell solved alone, so
its state never depends on which chunk or process settled it first: a resumed sweep is bitwise
equal to an uninterrupted one). Cells whose conductances come from a table or a random sample
are settled per chunk, the chunk's distinct cells in one batch of ``chunk_size`` rows.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from ._validate import fail, number
from .space import Categories

__all__ = ["SLOTS", "SYNAPSES", "PAIRS", "RHYTHM_FEATURES", "RHYTHM_CLASSES", "is_network_model", "categories",
           "parse_fixed", "check_axes", "chunk_cells", "initial_states", "clear_settle_cache"]  # fmt: skip

SLOTS = ("ab_pd", "lp", "py")
"""Cell slots (:class:`jaxneuron.Pyloric2004` keywords), in the order of the ``cell`` dimension."""
SYNAPSES = ("g_AB_LP", "g_PD_LP", "g_AB_PY", "g_PD_PY", "g_LP_PD", "g_LP_PY", "g_PY_LP")
"""Synapse-strength fields (nS), Prinz 2004's column order (:data:`jaxneuron.PYLORIC_SYNAPSES`)."""
PAIRS = ("AB/PD->LP", "LP->PY")
"""Labels of the ``pair`` dimension of the phase features (:class:`jaxneuron.analysis.rhythm.Rhythm`)."""
_SLOT_TYPE = {"ab_pd": "AB/PD ", "lp": "LP ", "py": "PY "}

RHYTHM_FEATURES = {
    "cycle_period": "cycle_period", "burst_durations": "burst_durations", "duty_cycles": "duty_cycles",
    "rhythm_n_spikes": "n_spikes", "rhythm_n_bursts": "n_bursts", "start_phases": "start_phases",
    "starts_to_starts": "starts_to_starts", "ends_to_starts": "ends_to_starts", "phase_gaps": "phase_gaps",
    "triphasic": "triphasic", "pyloric_like": "pyloric_like", "n_periods": "n_periods", "n_triphasic": "n_triphasic",
    "rhythm_overflow": "overflow",
}  # fmt: skip
"""Database name -> :class:`~jaxneuron.analysis.rhythm.Rhythm` field. The rhythm's ``n_spikes``,
``n_bursts`` and ``overflow`` are stored as ``rhythm_*``: the per-cell activity features have
those names (``n_bursts`` differs: the rhythm splits bursts at ISIs >= 150 ms)."""

RHYTHM_CLASSES = ("not triphasic", "triphasic (not pyloric-like)", "pyloric-like")
"""``rhythm_class`` 0, 1, 2 (-1: not computed, or the solve failed)."""

_RHYTHM_DOC = {
    "cycle_period": "cycle period: mean interval between AB/PD burst starts",
    "burst_durations": "mean burst duration of each cell", "duty_cycles": "burst duration / cycle period",
    "rhythm_n_spikes": "spikes in the analysed window (rhythm analysis)",
    "rhythm_n_bursts": "bursts kept by the rhythm criteria (ISI split 150 ms, longer than 40 ms)",
    "start_phases": "burst start after the AB/PD start, / period (LP, PY)",
    "starts_to_starts": "burst start to burst start (AB/PD->LP, LP->PY)",
    "ends_to_starts": "burst end to next cell's burst start (AB/PD->LP, LP->PY)",
    "phase_gaps": "ends_to_starts / cycle period", "triphasic": "triphasic rhythm (spec 3.6)",
    "pyloric_like": "triphasic in pyloric order (spec 3.6)", "n_periods": "reference periods (AB/PD bursts - 1)",
    "n_triphasic": "triphasic reference periods", "rhythm_overflow": "a cell overflowed its spike buffer",
}  # fmt: skip


def is_network_model(cls) -> bool:
    from ..models import Network

    return isinstance(cls, type) and issubclass(cls, Network)


def _cells():
    from ..models import PRINZ2004_CELLS

    return PRINZ2004_CELLS


def _conductances():
    from ..models import STG_CONDUCTANCES

    return tuple(STG_CONDUCTANCES)


@functools.cache
def categories() -> dict[str, Categories]:
    """``{slot: Categories}``: any Prinz 2004 cell name in any slot; ``"all"`` = the slot's type."""
    names = tuple(_cells())
    return {s: Categories(names, tuple(n for n in names if n.startswith(_SLOT_TYPE[s])), "Prinz 2004 cell") for s in SLOTS}


def _presets():
    from ..models import PYLORIC_EXAMPLES

    return PYLORIC_EXAMPLES


def conductance_axes() -> tuple[str, ...]:
    return tuple(f"{s}.{g}" for s in SLOTS for g in _conductances())


def _valid_names() -> str:
    syn = ", ".join(SYNAPSES)
    return (f"synapse strengths {syn} (nS); cell slots {', '.join(SLOTS)} (Prinz 2004 cell names); cell conductances "
            f"SLOT.g_Na ... SLOT.g_leak (mS/cm^2, e.g. lp.g_CaS); or stimulus.FIELD")  # fmt: skip


def _unknown(name, where):
    """An error for a name that is neither synapse, slot nor conductance, naming what is valid."""
    from ..models import PYLORIC_SYNAPSES

    if re.fullmatch(r"g_[A-Za-z]+_[A-Za-z]+", name):
        syn = ", ".join(f"{f} ({pre} -> {post})" for f, pre, post, _ in PYLORIC_SYNAPSES)
        fail(where, f"no synapse {name!r} in Pyloric2004; its 7 synapses (nS): {syn}")
    slot = name.split(".", 1)[0]
    if "." in name and slot in SLOTS:
        fail(where, f"unknown conductance {name!r}; the conductances of cell slot {slot!r} (mS/cm^2): "
                    f"{', '.join(f'{slot}.{g}' for g in _conductances())}")  # fmt: skip
    fail(where, f"unknown parameter {name!r} for Pyloric2004; valid: {_valid_names()}")


def check_value(name, value, where):
    """A synapse strength (nS) or a conductance (mS/cm^2) must be finite and >= 0."""
    if name in SYNAPSES and value < 0:
        fail(where, f"negative synapse strength: {name} must be >= 0 nS, got {value!r}")
    if name in conductance_axes() and value < 0:
        fail(where, f"negative conductance: {name} must be >= 0 mS/cm^2, got {value!r}")


def _flatten(table, prefix=""):
    out = {}
    for k, v in table.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def parse_fixed(raw) -> tuple[str | None, tuple]:
    """``preset`` and ``[fixed]`` of a network sweep -> ``(preset, ((name, value), ...))``; a slot's
    value is a cell name (str) or its 8 conductances (tuple, mS/cm^2)."""
    preset = raw.get("preset")
    if preset is not None and preset not in _presets():
        fail("preset", f"unknown network {preset!r}; valid presets (jaxneuron.PYLORIC_EXAMPLES): {', '.join(_presets())}")
    fixed = raw.get("fixed", {})
    if not isinstance(fixed, dict):
        fail("[fixed]", f"expected a table, got {fixed!r}")
    out = {}
    for name, value in _flatten(fixed).items():
        where = f"fixed.{name}"
        if name in SLOTS:
            if isinstance(value, str):
                if value not in _cells():
                    fail(where, f"unknown Prinz 2004 cell {value!r}; valid names: {', '.join(_cells())}")
                out[name] = value
            elif isinstance(value, list) and len(value) == 8:
                g = tuple(float(number(x, where)) for x in value)
                for gname, x in zip(_conductances(), g):
                    check_value(f"{name}.{gname}", x, where)
                out[name] = g
            else:
                fail(where, f"expected a Prinz 2004 cell name or the 8 conductances [{', '.join(_conductances())}] "
                            f"(mS/cm^2), got {value!r}")  # fmt: skip
        elif name in SYNAPSES or name in conductance_axes():
            out[name] = float(number(value, where))
            check_value(name, out[name], where)
        else:
            _unknown(name, where)
    return preset, tuple(sorted(out.items()))


def check_axes(space):
    """Every swept name of a network sweep is a synapse, slot, slot conductance or stimulus field
    (stimulus fields are checked by the caller), with values in range."""
    bounds = space.bounds()
    for name in space.names:
        where = f"space.axes.{name}"
        if name.startswith("stimulus."):
            continue
        if name in SLOTS:
            continue  # labels, checked while parsing (Categories)
        if name not in SYNAPSES and name not in conductance_axes():
            _unknown(name, where)
        check_value(name, bounds[name][0], where)


def model_arguments(spec) -> dict:
    """Fixed constructor arguments: the preset network (default fig2e = Pyloric2004's defaults),
    then ``[fixed]``; conductance overrides ``slot.g_X`` are kept as such."""
    args = dict(_presets()[spec.preset or "fig2e"])
    args.update(dict(spec.fixed))
    return args


def base_cells(spec) -> dict[str, np.ndarray]:
    """``{slot: (8,) conductances}`` (mS/cm^2) of the fixed cells, overrides applied."""
    args = model_arguments(spec)
    out = {}
    for s in SLOTS:
        v = args[s]
        g = np.array(_cells()[v] if isinstance(v, str) else v, dtype=float)
        for j, gname in enumerate(_conductances()):
            if f"{s}.{gname}" in args:
                g[j] = args[f"{s}.{gname}"]
        out[s] = g
    return out


def cell_names_used(spec) -> list[str]:
    """Prinz 2004 names any member's cells may take (fixed, preset or swept)."""
    args = model_arguments(spec)
    names = {v for s in SLOTS if isinstance(v := args[s], str)}
    for a in getattr(spec.space, "axes", ()):
        if a.name in SLOTS:
            names |= set(a.args)
    for col, labels in getattr(spec.space, "categories", ()):
        names |= set(labels)
    return [n for n in _cells() if n in names]


def chunk_cells(spec, values: dict) -> dict[str, np.ndarray]:
    """``{slot: (n, 8)}`` conductances (mS/cm^2) of ``n`` members from their swept ``values``:
    the slot's fixed cell, or the swept name, then swept conductances ``slot.g_X`` on top."""
    n = len(next(iter(values.values())))
    base = base_cells(spec)
    out = {}
    for s in SLOTS:
        if s in values:
            table = _cells()
            g = np.array([table[name] for name in values[s]], dtype=float).reshape(n, 8)
            for j, gname in enumerate(_conductances()):  # fixed overrides still apply to named cells
                if f"{s}.{gname}" in dict(spec.fixed):
                    g[:, j] = dict(spec.fixed)[f"{s}.{gname}"]
        else:
            g = np.repeat(base[s][None], n, axis=0)
        for j, gname in enumerate(_conductances()):
            if f"{s}.{gname}" in values:
                g[:, j] = values[f"{s}.{gname}"]
        out[s] = g
    return out


# --- warm start --------------------------------------------------------------------------------

_SETTLED: dict = {}
"""``(conductances bytes, t_settle, solver) -> (state (13,), status)``: cells settled alone in this process."""


def clear_settle_cache() -> None:
    """Forget the cells settled in this process (tests; the next warm start settles them again)."""
    _SETTLED.clear()


def _settle_one(g, t_settle, solver):
    """One cell (8 conductances) simulated alone from its default state for ``t_settle`` ms."""
    import jax.numpy as jnp

    from .. import Prinz2003, SaveAt, simulate

    key = (np.asarray(g, dtype="<f8").tobytes(), float(t_settle), solver)
    if key not in _SETTLED:
        sol = simulate(Prinz2003.from_conductances(jnp.asarray(g, dtype=float)), t_end=float(t_settle),
                       save=SaveAt(states=None), solver=solver)  # fmt: skip
        _SETTLED[key] = (np.asarray(sol.y_final, dtype=float), int(sol.status))
    return _SETTLED[key]


def _settle_batch(G, rows, t_settle, solver):
    """The distinct cells of ``G (n, 8)`` settled together in one batch of ``rows`` members (the
    chunk size: one compiled shape); the result depends only on ``G``."""
    import jax.numpy as jnp

    from .. import Prinz2003, SaveAt, simulate

    uniq, inverse = np.unique(G, axis=0, return_inverse=True)
    pad = np.concatenate([uniq, np.repeat(uniq[-1:], max(rows - len(uniq), 0), axis=0)])
    sol = simulate(Prinz2003.from_conductances(jnp.asarray(pad)), t_end=float(t_settle), save=SaveAt(states=None), solver=solver)
    y, status = np.asarray(sol.y_final), np.asarray(sol.status)
    inverse = np.asarray(inverse).reshape(-1)
    return y[inverse], status[inverse]


def settled_per_chunk(spec, slot) -> bool:
    """Cells of ``slot`` whose conductances come from a table or a random sample are settled per chunk."""
    swept = [n for n in spec.space.names if n.startswith(slot + ".")]
    return bool(swept) and spec.space.kind != "grid"


@functools.cache
def _layout():
    from ..models import Pyloric2004

    return Pyloric2004()


def initial_states(spec, cells: dict, solver) -> tuple[np.ndarray, np.ndarray]:
    """``(y0 (n, 43), settle_status (n,))`` of ``n`` networks with cells ``{slot: (n, 8)}``.

    Cold start: the network's ``default_y0()``. Warm start (Prinz et al. 2004, spec 3.5): each
    cell simulated alone for ``t_settle`` ms from its default state, every synaptic ``s = 0``, as
    :meth:`jaxneuron.Network.warm_start`. ``settle_status``: 0, or the status of a failed
    settling solve (that cell then starts from its default state)."""
    from .. import Prinz2003

    n = len(cells[SLOTS[0]])
    cold = [np.broadcast_to(np.asarray(Prinz2003.from_conductances(cells[s]).default_y0()), (n, 13)) for s in SLOTS]
    if spec.protocol.initial_state == "cold":
        return np.asarray(_layout().state_from_cells(cold)), np.zeros(n, dtype=np.int8)
    t_settle = spec.protocol.t_settle
    states, status = [], np.zeros(n, dtype=np.int8)
    for s, y_cold in zip(SLOTS, cold):
        G = cells[s]
        if settled_per_chunk(spec, s):
            y, st = _settle_batch(G, spec.chunk_size, t_settle, solver)
        else:
            uniq, inverse = np.unique(G, axis=0, return_inverse=True)
            done = [_settle_one(g, t_settle, solver) for g in uniq]
            inverse = np.asarray(inverse).reshape(-1)
            y = np.stack([d[0] for d in done])[inverse]
            st = np.array([d[1] for d in done])[inverse]
        y = np.where((st == 0)[:, None], y, y_cold)
        status = np.where((status == 0) & (st != 0), st, status).astype(np.int8)
        states.append(y)
    return np.asarray(_layout().state_from_cells(states)), status


# --- database attributes -----------------------------------------------------------------------


def axis_attrs(name: str) -> dict:
    """``units`` and ``long_name`` of a swept network parameter."""
    from ..models import PYLORIC_SYNAPSES

    if name in SYNAPSES:
        f, pre, post, tr = next(s for s in PYLORIC_SYNAPSES if s[0] == name)
        return {"units": "nS", "long_name": f"strength of the {pre} -> {post} synapse ({tr})"}
    if name in SLOTS:
        return {"long_name": f"{dict(zip(SLOTS, ('AB/PD', 'LP', 'PY')))[name]} cell (Prinz 2004 model neuron)"}
    slot, g = name.split(".", 1)
    return {"units": "mS/cm^2", "long_name": f"maximal conductance {g} of the {slot} cell"}


def feature_attrs(name: str) -> dict:
    """Attributes of a network feature (per-cell activity features, rhythm features, rhythm_class)."""
    from ..analysis.rhythm import Rhythm

    if name == "rhythm_class":
        return {"long_name": "rhythm class (spec 3.6)", "flag_values": [-1, 0, 1, 2],
                "flag_meanings": "not_computed_or_failed not_triphasic triphasic_not_pyloric pyloric_like"}  # fmt: skip
    if name in RHYTHM_FEATURES:
        attrs = {"long_name": _RHYTHM_DOC[name]}
        unit = Rhythm.units.get(RHYTHM_FEATURES[name])
        return {**attrs, "units": unit} if unit else attrs
    return {}


def canonical_extra(spec) -> dict:
    """What else determines a network sweep's results: the conductances of the named cells."""
    return {"cells": {n: [float(x) for x in _cells()[n]] for n in cell_names_used(spec)}}
