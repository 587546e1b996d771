"""Survey-seeded starts: the members of a sweep database closest to a target in feature space.

A sweep database (:mod:`jaxneuron.survey.store`) holds, per member, the swept parameters (one
coordinate each) and the activity features of :func:`jaxneuron.activity`. :func:`nearest`
ranks its computed members by ``sum_f weight_f ((feature_f - target_f) / target_f)^2`` -- the
distance the feature loss of :func:`jaxneuron.losses.features` minimises, on the exact features
-- and returns the swept parameters of the ``k`` closest, ready for ``fit(..., starts=...)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nearest", "feature_distance"]


def feature_distance(values: dict, target: dict, weights: dict | None = None) -> np.ndarray:
    """``sum_f weights[f] ((values[f] - target[f]) / target[f])^2`` (NaN where a feature is NaN)."""
    weights = weights or {}
    return sum(float(weights.get(f, 1.0)) * ((np.asarray(values[f], float) - t) / t) ** 2 for f, t in target.items())


def nearest(db, target: dict, k: int, *, params=None, weights: dict | None = None, bounds: dict | None = None,
            return_distance: bool = False):  # fmt: skip
    """Swept parameters ``{name: (k,)}`` of the ``k`` members of the sweep database ``db`` (a
    path or an open ``xarray.Dataset``) closest to ``target`` (``{feature: value}``, names of
    :func:`jaxneuron.activity`), nearest first.

    Only members with ``status == 0`` and every target feature finite are candidates (burst
    features are NaN unless a member bursts). ``params``: the parameters to return (default:
    every swept one); ``bounds``: ``{name: (low, high[, scale])}`` -- each value is moved into the
    open interval (by 1e-9 of its width) so that :func:`jaxneuron.fit` accepts it as a start.
    ``return_distance``: also return the ``(k,)`` distances. The unswept parameters of the
    database (its preset and ``[fixed]`` values) must be those of the model you fit.
    """
    import xarray as xr

    ds = xr.open_zarr(db) if not isinstance(db, xr.Dataset) else db
    missing = [f for f in target if f not in ds.data_vars]
    if missing:
        raise ValueError(f"the database has no feature {missing}; it has {sorted(v for v in ds.data_vars if ds[v].dims == ('member',))}")
    swept = [c for c in ds.coords if c not in ("member", "trace_member", "time", "cell", "pair") and ds[c].dims == ("member",)]
    params = swept if params is None else list(params)
    unknown = [p for p in params if p not in swept]
    if unknown:
        raise ValueError(f"{unknown} were not swept in this database; swept: {swept}")
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    values = {f: ds[f].values for f in target}
    d = feature_distance(values, target, weights)
    d = np.where((ds["status"].values == 0) & np.isfinite(d), d, np.inf)
    n_ok = int(np.isfinite(d).sum())
    if n_ok < k:
        raise ValueError(f"only {n_ok} members of the database have every feature of {list(target)}; asked for k = {k}")
    order = np.argsort(d, kind="stable")[:k]
    out = {p: np.asarray(ds[p].values[order], np.float64) for p in params}
    if bounds:
        for p, b in bounds.items():
            if p in out:
                lo, hi = float(b[0]), float(b[1])
                eps = 1e-9 * (hi - lo if np.isfinite(hi) else max(1.0, abs(lo)))
                out[p] = np.clip(out[p], lo + eps, hi - eps)
    return (out, d[order]) if return_distance else out
