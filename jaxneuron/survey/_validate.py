"""Validation helpers shared by the sweep-spec parsers: every error names where it happened."""

from __future__ import annotations

import math

__all__ = ["SweepSpecError", "fail", "check_keys", "number", "pair_args"]


class SweepSpecError(ValueError):
    """A sweep specification that cannot be run; the message says where and what is valid."""


def fail(where, msg):
    raise SweepSpecError(f"{where}: {msg}")


def check_keys(table, valid, where):
    if not isinstance(table, dict):
        fail(where, f"expected a table, got {table!r}")
    unknown = [k for k in table if k not in valid]
    if unknown:
        fail(where, f"unknown key(s) {unknown}; valid keys: {', '.join(valid)}")


def number(value, where, *, positive=False, minimum=None, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        fail(where, f"expected {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        fail(where, f"must be finite, got {value!r}")
    if positive and value <= 0:
        fail(where, f"must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        fail(where, f"must be >= {minimum}, got {value!r}")
    return value


def pair_args(spec, names, where):
    """``[a, b, ...]`` or ``{name: value}`` -> tuple in ``names`` order."""
    if isinstance(spec, dict):
        check_keys(spec, names, where)
        missing = [n for n in names if n not in spec]
        if missing:
            fail(where, f"missing {missing}")
        spec = [spec[n] for n in names]
    if not isinstance(spec, list) or len(spec) != len(names):
        fail(where, f"expected [{', '.join(names)}], got {spec!r}")
    return tuple(spec)


