"""Parameter spaces of a sweep: member index -> parameter values.

A space maps member ``i`` (0 <= i < n_members) to one value per swept parameter, and that value
depends only on the space's definition (and seed) and on ``i``: never on chunking, on which
worker computes it or on how often the sweep was resumed.

* :class:`GridSpace`: the full Cartesian product of per-axis values (explicit ``values``,
  ``linspace`` or ``logspace``); member ``i`` is ``np.unravel_index(i, shape)`` in C order, so
  the *last* axis varies fastest.
* :class:`SampledSpace`: ``n`` points of a unit-cube sample mapped onto per-axis ``uniform`` or
  ``loguniform`` ranges. ``random``: ``numpy.random.default_rng(seed)`` (row ``i`` is the same for
  every ``n``); ``lhs`` and ``sobol``: :mod:`scipy.stats.qmc` (scrambled, seeded).
* :class:`TableSpace`: explicit members, one per row of a CSV file.

Categorical axes (a network's cells, by name: :class:`Categories`) take labels instead of numbers:
``{values = ["LP 1", "LP 2"]}`` or ``"all"`` in every kind of space (random / lhs / sobol draw
each label with equal probability: label ``floor(u k)`` of ``k``), a column of labels in a table.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import math
import os

import numpy as np

from ._validate import check_keys, fail, number, pair_args

__all__ = ["Axis", "Categories", "GridSpace", "SampledSpace", "TableSpace", "parse_space", "GRID_RULES", "SAMPLED_RULES", "SAMPLED_METHODS"]

GRID_RULES = ("values", "linspace", "logspace")
SAMPLED_RULES = ("uniform", "loguniform")
SAMPLED_METHODS = ("random", "lhs", "sobol")
_SPACE = ("kind", "n", "file", "axes")


@dataclasses.dataclass(frozen=True)
class Categories:
    """Labels a categorical axis may take: any of ``valid``; ``"all"`` means ``all``. ``what``
    names a label in messages (``"Prinz 2004 cell"``)."""

    valid: tuple[str, ...]
    all: tuple[str, ...]
    what: str


@dataclasses.dataclass(frozen=True)
class Axis:
    """One swept parameter. ``rule``: ``values`` (``args`` = the values, numbers or the labels of
    a categorical axis), ``linspace`` / ``logspace`` (``args`` = start, stop, num; logspace is
    geometric between start and stop, both in the parameter's unit), ``uniform`` /
    ``loguniform`` (``args`` = low, high)."""

    name: str
    rule: str
    args: tuple

    @property
    def categorical(self) -> bool:
        """Labels (strings), not numbers."""
        return self.rule == "values" and isinstance(self.args[0], str)

    def grid_values(self) -> np.ndarray:
        if self.categorical:
            return np.asarray(self.args, dtype=object)
        if self.rule == "values":
            return np.asarray(self.args, dtype=float)
        start, stop, num = self.args
        fn = np.linspace if self.rule == "linspace" else np.geomspace
        return fn(start, stop, int(num))

    def bounds(self) -> tuple[float, float]:
        """Smallest and largest value the axis can take (parameter unit)."""
        if self.rule in SAMPLED_RULES:
            return float(self.args[0]), float(self.args[1])
        v = self.grid_values()
        return float(v.min()), float(v.max())

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map unit-interval samples onto the axis range (uniform, or uniform in log)."""
        low, high = self.args
        if self.rule == "loguniform":
            return np.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        return low + u * (high - low)

    def from_labels(self, u: np.ndarray) -> np.ndarray:
        """A categorical axis in a sampled space: label ``floor(u k)`` of its ``k`` (object array)."""
        k = len(self.args)
        return np.asarray(self.args, dtype=object)[np.minimum((u * k).astype(np.int64), k - 1)]

    def canonical(self) -> dict:
        if self.categorical:
            return {"rule": self.rule, "args": list(self.args)}
        return {"rule": self.rule, "args": [float(a) for a in self.args]}

    def describe(self) -> str:
        if self.rule == "values":
            return f"{self.name}: {len(self.args)} values {list(self.args)}"
        if self.rule in GRID_RULES:
            start, stop, num = self.args
            return f"{self.name}: {self.rule} {start:g} .. {stop:g} ({int(num)} values)"
        return f"{self.name}: {self.rule} [{self.args[0]:g}, {self.args[1]:g}]"


def _members(members) -> np.ndarray:
    return np.asarray(members, dtype=np.int64).reshape(-1)


@dataclasses.dataclass(frozen=True)
class GridSpace:
    """Full grid over ``axes``; member ``i`` -> ``np.unravel_index(i, shape)`` (last axis fastest)."""

    axes: tuple[Axis, ...]
    kind = "grid"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.grid_values()) for a in self.axes)

    @property
    def n_members(self) -> int:
        return int(math.prod(self.shape))

    def values(self, members) -> dict[str, np.ndarray]:
        idx = np.unravel_index(_members(members), self.shape)
        return {a.name: a.grid_values()[i] for a, i in zip(self.axes, idx)}

    def bounds(self) -> dict[str, tuple[float, float]]:
        """Smallest and largest value of each numeric axis."""
        return {a.name: a.bounds() for a in self.axes if not a.categorical}

    def canonical(self) -> dict:
        return {"kind": "grid", "axes": {a.name: a.canonical() for a in self.axes}}

    def describe(self) -> str:
        dims = " x ".join(str(s) for s in self.shape)
        return f"grid {dims} = {self.n_members:,} members\n" + "\n".join("  " + a.describe() for a in self.axes)

    def axis_attrs(self, name: str) -> dict:
        axis = self.axes[self.names.index(name)]
        if axis.categorical:
            return {"sweep_rule": axis.rule, "categories": list(axis.args)}
        return {"sweep_rule": axis.rule, "grid_values": [float(v) for v in axis.grid_values()]}


@functools.lru_cache(maxsize=4)
def _unit_sample(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """``(n, d)`` points in the unit cube, a pure function of its arguments (read-only)."""
    if method == "random":
        u = np.random.default_rng(seed).random((n, d))
    else:
        from scipy.stats import qmc

        cls = qmc.LatinHypercube if method == "lhs" else qmc.Sobol
        try:
            engine = cls(d, scramble=True, rng=np.random.default_rng(seed))
        except TypeError:  # scipy < 1.15 names the argument ``seed``
            engine = cls(d, scramble=True, seed=np.random.default_rng(seed))
        u = engine.random(n)
    u.setflags(write=False)
    return u


@dataclasses.dataclass(frozen=True)
class SampledSpace:
    """``n`` members sampled by ``method`` (random | lhs | sobol) with ``seed``; each axis maps
    the unit interval onto a ``uniform`` or ``loguniform`` range."""

    method: str
    n: int
    axes: tuple[Axis, ...]
    seed: int

    @property
    def kind(self) -> str:
        return self.method

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def n_members(self) -> int:
        return self.n

    def values(self, members) -> dict[str, np.ndarray]:
        u = _unit_sample(self.method, self.n, len(self.axes), self.seed)[_members(members)]
        return {a.name: a.from_labels(u[:, j]) if a.categorical else a.from_unit(u[:, j]) for j, a in enumerate(self.axes)}

    def bounds(self) -> dict[str, tuple[float, float]]:
        """Smallest and largest value of each numeric axis."""
        return {a.name: a.bounds() for a in self.axes if not a.categorical}

    def canonical(self) -> dict:
        return {"kind": self.method, "n": self.n, "axes": {a.name: a.canonical() for a in self.axes}}

    def describe(self) -> str:
        head = {"random": "random sample", "lhs": "Latin hypercube", "sobol": "scrambled Sobol sequence"}[self.method]
        return f"{head}, {self.n:,} members (seed {self.seed})\n" + "\n".join("  " + a.describe() for a in self.axes)

    def axis_attrs(self, name: str) -> dict:
        axis = self.axes[self.names.index(name)]
        if axis.categorical:
            return {"sweep_rule": "choice", "categories": list(axis.args)}
        return {"sweep_rule": axis.rule, "sweep_range": [float(a) for a in axis.args]}


@dataclasses.dataclass(frozen=True, eq=False)
class TableSpace:
    """Explicit members: ``columns[name][i]`` is member ``i``'s value (rows of a CSV file).

    ``categories``: ``((column, labels), ...)`` of the categorical columns, whose ``table`` entries
    are indices into ``labels``."""

    source: str
    names: tuple[str, ...]
    table: np.ndarray  # (n_members, n_parameters), read-only
    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()
    kind = "table"

    @property
    def n_members(self) -> int:
        return int(self.table.shape[0])

    def values(self, members) -> dict[str, np.ndarray]:
        rows = self.table[_members(members)]
        labels = dict(self.categories)
        out = {}
        for j, n in enumerate(self.names):
            out[n] = np.asarray(labels[n], dtype=object)[rows[:, j].astype(np.int64)] if n in labels else rows[:, j].copy()
        return out

    def bounds(self) -> dict[str, tuple[float, float]]:
        """Smallest and largest value of each numeric column."""
        labels = dict(self.categories)
        return {n: (float(self.table[:, j].min()), float(self.table[:, j].max())) for j, n in enumerate(self.names) if n not in labels}

    @property
    def sha256(self) -> str:
        extra = "".join(f"|{n}:{','.join(c)}" for n, c in self.categories).encode()
        return hashlib.sha256(np.ascontiguousarray(self.table, dtype="<f8").tobytes() + "|".join(self.names).encode() + extra).hexdigest()

    def canonical(self) -> dict:
        return {"kind": "table", "columns": list(self.names), "n": self.n_members, "sha256": self.sha256}

    def describe(self) -> str:
        return f"table of {self.n_members:,} members from {self.source}\n  columns: {', '.join(self.names)}"

    def axis_attrs(self, name: str) -> dict:
        labels = dict(self.categories)
        return {"sweep_rule": "table", "categories": list(labels[name])} if name in labels else {"sweep_rule": "table"}

    def __eq__(self, other):
        return isinstance(other, TableSpace) and self.canonical() == other.canonical()

    def __hash__(self):
        return hash(self.sha256)


# --- the [space] table of a sweep file -------------------------------------------------------

def _parse_categorical(name, spec, cats: Categories, where) -> Axis:
    """``"all"`` or ``{values = [labels]}``; an unknown label lists the valid ones."""
    if spec == "all":
        return Axis(name, "values", tuple(cats.all))
    if not (isinstance(spec, dict) and list(spec) == ["values"]):
        fail(where, f"expected \"all\" or {{values = [...]}} of {cats.what} names, got {spec!r}")
    labels = spec["values"]
    if not isinstance(labels, list) or not labels:
        fail(f"{where}.values", f"expected a non-empty list of {cats.what} names (empty range)")
    for v in labels:
        if v not in cats.valid:
            fail(f"{where}.values", f"unknown {cats.what} {v!r}; valid names: {', '.join(cats.valid)} (or \"all\": {', '.join(cats.all)})")
    dup = sorted({v for v in labels if labels.count(v) > 1})
    if dup:
        fail(f"{where}.values", f"{dup} listed more than once")
    return Axis(name, "values", tuple(labels))


def _parse_axis(name, spec, rules, where) -> Axis:
    if not isinstance(spec, dict) or len(spec) != 1:
        fail(where, f"expected one of {{{' | '.join(rules)} = ...}}, got {spec!r}")
    (rule, args), = spec.items()
    if rule not in rules:
        other = SAMPLED_RULES if rules == GRID_RULES else GRID_RULES
        hint = f" ({rule!r} belongs to {'random/lhs/sobol' if rule in SAMPLED_RULES else 'grid'} spaces)" if rule in other else ""
        fail(where, f"unknown rule {rule!r}{hint}; valid rules: {', '.join(rules)}")
    if rule == "values":
        if not isinstance(args, list) or not args:
            fail(f"{where}.values", "expected a non-empty list of numbers (empty range)")
        return Axis(name, rule, tuple(float(number(v, f"{where}.values")) for v in args))
    if rule in ("linspace", "logspace"):
        start, stop, num = pair_args(args, ("start", "stop", "num"), f"{where}.{rule}")
        start, stop = number(start, f"{where}.{rule}.start"), number(stop, f"{where}.{rule}.stop")
        num = number(num, f"{where}.{rule}.num", positive=True, integer=True)
        if num > 1 and not stop > start:
            fail(f"{where}.{rule}", f"empty or inverted range: stop ({stop}) must be > start ({start})")
        if rule == "logspace" and start <= 0:
            fail(f"{where}.logspace", f"start must be > 0 for a geometric range, got {start}")
        return Axis(name, rule, (float(start), float(stop), float(num)))
    low, high = pair_args(args, ("low", "high"), f"{where}.{rule}")
    low, high = number(low, f"{where}.{rule}.low"), number(high, f"{where}.{rule}.high")
    if not high > low:
        fail(f"{where}.{rule}", f"empty or inverted range: high ({high}) must be > low ({low})")
    if rule == "loguniform" and low <= 0:
        fail(f"{where}.loguniform", f"low must be > 0, got {low}")
    return Axis(name, rule, (float(low), float(high)))


def _flatten_axes(axes, prefix=""):
    """``{"stimulus": {"amplitude": {...}}}`` -> ``{"stimulus.amplitude": {...}}``."""
    out = {}
    for k, v in axes.items():
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()) and not set(v) & set(GRID_RULES + SAMPLED_RULES):
            out.update(_flatten_axes(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def parse_space(table, seed, base_dir, categorical: dict | None = None):
    """The ``[space]`` table; ``categorical``: ``{axis name: Categories}`` of the label axes."""
    categorical = categorical or {}
    check_keys(table, _SPACE, "[space]")
    kinds = ("grid",) + SAMPLED_METHODS + ("table",)
    kind = table.get("kind", "grid")
    if kind not in kinds:
        fail("space.kind", f"unknown space {kind!r}; valid kinds: {', '.join(kinds)}")
    if kind == "table":
        extra = [k for k in ("n", "axes") if k in table]
        if extra or "file" not in table:
            fail("[space]", "a table space takes only 'file' (a CSV file with one column per parameter)")
        return _read_table(table["file"], base_dir, categorical)
    if "file" in table:
        fail("space.file", "only a table space reads a file")
    axes = _flatten_axes(table.get("axes", {}))
    if not axes:
        fail("space.axes", "no swept parameters (empty space)")
    rules = GRID_RULES if kind == "grid" else SAMPLED_RULES

    def axis(name, spec):
        if name in categorical:
            return _parse_categorical(name, spec, categorical[name], f"space.axes.{name}")
        return _parse_axis(name, spec, rules, f"space.axes.{name}")

    if kind == "grid":
        if "n" in table:
            fail("space.n", "a grid's size is the product of its axes; 'n' is for random/lhs/sobol")
        return GridSpace(tuple(axis(n, s) for n, s in axes.items()))
    if "n" not in table:
        fail("[space]", f"a {kind} space needs 'n' (number of members)")
    n = number(table["n"], "space.n", positive=True, integer=True)
    return SampledSpace(kind, n, tuple(axis(a, s) for a, s in axes.items()), seed)


def _read_table(file, base_dir, categorical) -> TableSpace:
    path = file if os.path.isabs(file) else os.path.join(base_dir, file)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(row for row in f if row.strip() and not row.lstrip().startswith("#")))
    except OSError as e:
        fail("space.file", f"cannot read {path!r}: {e.strerror}")
    if len(rows) < 2:
        fail("space.file", f"{path}: expected a header row of parameter names and at least one member row")
    names = tuple(h.strip() for h in rows[0])
    if len(set(names)) != len(names) or not all(names):
        fail("space.file", f"{path}: header must name distinct parameters, got {list(names)}")
    table = np.empty((len(rows) - 1, len(names)))
    for i, row in enumerate(rows[1:]):
        if len(row) != len(names):
            fail("space.file", f"{path}, row {i + 2}: expected {len(names)} values, got {len(row)}")
        for j, cell in enumerate(row):
            cats = categorical.get(names[j])
            if cats is not None:
                if cell.strip() not in cats.valid:
                    fail("space.file", f"{path}, row {i + 2}, column {names[j]!r}: unknown {cats.what} {cell.strip()!r}; valid names: {', '.join(cats.valid)}")
                table[i, j] = cats.valid.index(cell.strip())
                continue
            try:
                table[i, j] = float(cell)
            except ValueError:
                fail("space.file", f"{path}, row {i + 2}, column {names[j]!r}: {cell!r} is not a number")
    if not np.all(np.isfinite(table)):
        fail("space.file", f"{path}: values must be finite")
    table.setflags(write=False)
    cats = tuple((n, tuple(categorical[n].valid)) for n in names if n in categorical)
    return TableSpace(os.path.basename(path), names, table, cats)
