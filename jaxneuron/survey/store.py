"""The sweep database: a Zarr v3 store written through xarray, one region per chunk.

Layout (open with ``xarray.open_zarr(path)``):

* dimension ``member``; coordinates ``member`` (index) and one per swept parameter (model
  units, e.g. ``g_CaS`` in mS/cm^2; ``stimulus.amplitude`` in uA/cm^2);
* per-member variables: ``status`` (int8: -1 not computed yet, else the code of
  :class:`jaxneuron.solvers.status.Status`: 0 ok, 1 max_steps, 2 non_finite, 3 step_collapsed,
  4 solver_failure; the CF attributes ``flag_values``/``flag_meanings`` say so),
  ``num_steps`` (solver steps) and one variable per activity feature (``label``: -1 not
  computed or failed, else 0 silent .. 3 irregular, 4 undetermined);
* kept traces ``V`` (mV, float32) along (``trace_member``, ``time``); ``time`` in ms from the
  start of the simulation (the analysed window);
* attributes: the spec text and its canonical JSON, chunk size, seed, package versions, device.

Network sweeps (:mod:`.network`) add the dimensions ``cell`` (AB/PD, LP, PY) and ``pair``
(AB/PD->LP, LP->PY): per-cell activity features are ``(member, cell)``, the rhythm features
``(member)``, ``(member, cell)`` or ``(member, pair)``, ``rhythm_class`` ``(member)`` and the kept
traces ``V`` ``(trace_member, cell, time)``. A cell slot swept by name is a string coordinate
(``lp``: ``"LP 4"``); the attributes ``initial_state`` and ``t_settle`` record the start.

The template (coordinates, empty variables, attributes) is written to a temporary directory
and renamed into place, so a store either exists whole or not at all, and concurrent shards
agree on one. Each chunk writes its own region (Zarr chunks along ``member`` are exactly the
sweep's chunks, so writers never share a Zarr chunk) and *then* sets its flag in the
``progress/chunk_done`` array: a chunk whose write failed or was killed stays not done.

Concurrent writers (shards, Dask workers) are safe: after the template nothing but chunk
files is ever written -- no attribute, summary or consolidated metadata is updated (summaries
are computed when read), so there is no read-modify-write to race on -- each writer's files
(its chunk of every variable, its kept traces' chunks, its done flag) are its own, and Zarr
(>= 3.1.3) writes each file to a temporary name and renames it into place, so a killed writer
leaves a file whole or absent (and at worst a stray ``*.partial`` file, which readers ignore).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import warnings

import numpy as np

from .spec import SCHEMA, SweepSpec, parse_spec

__all__ = ["SweepError", "status_attrs", "create_store", "check_store", "done_chunks", "chunk_done", "write_chunk", "read_spec", "is_sweep_store", "versions"]

_PROGRESS = "progress/chunk_done"


class SweepError(RuntimeError):
    """A sweep that cannot run as asked (output exists, spec differs, ...); nothing was changed."""


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("jaxneuron", "jax", "jaxlib", "equinox", "diffrax", "numpy", "scipy", "xarray", "zarr"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def device_description() -> str:
    import jax

    d = jax.devices()[0]
    return f"{d.platform}: {getattr(d, 'device_kind', d.platform)} ({jax.device_count()} device(s), {os.cpu_count()} CPU cores)"


def status_attrs() -> dict:
    """CF flag attributes of the ``status`` variable, from the one status enum
    (:mod:`jaxneuron.solvers.status`) plus ``-1``: not computed yet."""
    from ..solvers.status import STATUS, STATUS_NOT_COMPUTED

    codes = sorted(STATUS)
    return {"long_name": "solver status", "flag_values": [STATUS_NOT_COMPUTED] + codes,
            "flag_meanings": " ".join(["not_computed"] + [STATUS[c] for c in codes])}  # fmt: skip


def _fill(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.nan
    if dtype.kind == "b":
        return False
    return -1


def _feature_attrs(name, network=False):
    from ..analysis import ACTIVITY_LABELS, Activity
    from .network import RHYTHM_FEATURES, feature_attrs

    if network and (name in RHYTHM_FEATURES or name == "rhythm_class"):
        return feature_attrs(name)
    from ..analysis.patterns import FIRING_PATTERNS

    attrs = {"long_name": name.replace("_", " ") + (" (of each cell)" if network else "")}
    if name == "pattern":
        attrs.update(long_name="firing pattern of the step response (jaxneuron.analysis.patterns)",
                     flag_values=[-1] + list(range(len(FIRING_PATTERNS))),
                     flag_meanings=" ".join(("not_computed_or_failed",) + FIRING_PATTERNS))  # fmt: skip
    if name == "adaptation":
        attrs["long_name"] = "last ISI / first ISI of the window"
    if name in Activity.units:
        attrs["units"] = Activity.units[name]
    if name == "label":
        attrs.update(flag_values=[-1] + list(range(len(ACTIVITY_LABELS))),
                     flag_meanings=" ".join(("not_computed_or_failed",) + tuple(ACTIVITY_LABELS)))  # fmt: skip
    return attrs


def _param_attrs(spec: SweepSpec, name: str) -> dict:
    from ..models import parameter_info

    attrs = dict(spec.space.axis_attrs(name))
    if spec.is_network and not name.startswith("stimulus."):
        from .network import axis_attrs

        attrs.update(axis_attrs(name))
    elif name.startswith("stimulus."):
        import dataclasses

        from .spec import stimulus_classes

        field = {f.name: f for f in dataclasses.fields(stimulus_classes()[spec.protocol.stimulus_kind])}[name.split(".", 1)[1]]
        unit = field.metadata.get("unit", "")
        if unit == "uA/cm^2":  # a current: in the model's stimulus unit (pA for AdEx)
            unit = spec.model_class.stimulus_unit
        attrs.update(units=unit, long_name=f"stimulus {field.metadata.get('doc', name)}")
    else:
        info = parameter_info(spec.model_class)[name]
        attrs.update(units=info["unit"], long_name=info["doc"])
    return attrs


def _tail_dims(shape) -> tuple[str, ...]:
    """Dimensions after ``member`` of a network feature: ``cell`` (3) or ``pair`` (2)."""
    return {(): (), (3,): ("cell",), (2,): ("pair",)}[tuple(shape)]


def template(spec: SweepSpec, out_struct, *, device: str | None = None):
    """``(dataset, encoding)``: every coordinate, empty variable and attribute of the database.
    Empty variables are zero-stride views (no memory), never written (``write_empty_chunks=False``)."""
    import xarray as xr

    from .engine import trace_times

    features, status, num_steps, _ = out_struct
    n, cs = spec.n_members, spec.chunk_size
    coord_chunk = cs * max(1, (1 << 20) // cs)
    members = np.arange(n, dtype=np.int64)
    params = spec.space.values(members)
    kept = spec.trace_members()
    t = trace_times(spec)
    coords = {"member": ("member", members, {"long_name": "member index"})}
    for name, values in params.items():
        coords[name] = ("member", values, _param_attrs(spec, name))
    coords["trace_member"] = ("trace_member", kept, {"long_name": "member whose analysed window is kept"})
    coords["time"] = ("time", t, {"units": "ms", "long_name": "time since the start of the simulation"})
    trace_dims = ("trace_member", "time")
    if spec.is_network:
        from ..models import PYLORIC_CELLS
        from .network import PAIRS

        coords["cell"] = ("cell", np.asarray(PYLORIC_CELLS, dtype=object), {"long_name": "cell of the pyloric circuit"})
        coords["pair"] = ("pair", np.asarray(PAIRS, dtype=object), {"long_name": "pair of cells (phase features)"})
        trace_dims = ("trace_member", "cell", "time")
    empty = lambda dtype, shape: np.broadcast_to(np.asarray(_fill(dtype), dtype=dtype), shape)  # noqa: E731
    data = {
        "status": ("member", empty(np.int8, (n,)), status_attrs()),
        "num_steps": ("member", empty(num_steps.dtype, (n,)), {"long_name": "solver steps (-1: not computed)"}),
    }  # fmt: skip
    for name, sds in features.items():
        data[name] = (("member",) + _tail_dims(sds.shape[1:]), empty(sds.dtype, (n,) + sds.shape[1:]), _feature_attrs(name, spec.is_network))
    n_cells = len(coords["cell"][1]) if spec.is_network else None
    v_shape = (kept.size, n_cells, t.size) if spec.is_network else (kept.size, t.size)
    data["V"] = (trace_dims, empty(np.float32, v_shape), {"units": "mV", "long_name": "membrane potential"})
    attrs = {
        "title": f"jaxneuron sweep: {spec.description or spec.model}",
        "description": spec.description, "model": spec.model_class.__name__, "space": spec.space.describe(),
        "spec_toml": spec.text, "spec_json": json.dumps(spec.canonical(), sort_keys=True), "spec_path": spec.path or "",
        "n_members": n, "chunk_size": cs, "n_chunks": spec.n_chunks, "seed": spec.seed,
        "versions": json.dumps(versions()), "device": device or device_description(),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    if spec.is_network:
        p = spec.protocol
        attrs["initial_state"] = (f"warm: each cell settled alone for {p.t_settle:g} ms from its default state, synaptic s = 0 "
                                  "(Prinz et al. 2004)" if p.initial_state == "warm" else "cold: the network's default_y0()")  # fmt: skip
        attrs["t_settle"] = p.t_settle if p.initial_state == "warm" else "none"
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    encoding = {}
    for name, var in ds.variables.items():
        if var.dims[:1] == ("member",):
            chunk = coord_chunk if name in coords else cs
            encoding[name] = {"chunks": (min(chunk, n),) + var.shape[1:]}
            if name not in coords:
                encoding[name]["fill_value"] = _fill(var.dtype)
    encoding["V"] = {"chunks": (1,) + v_shape[1:], "fill_value": np.float32(np.nan)}
    return ds, encoding


def is_sweep_store(path) -> bool:
    return os.path.isfile(os.path.join(path, "zarr.json")) and os.path.isdir(os.path.join(path, "progress"))


def create_store(path, spec: SweepSpec, out_struct, *, device=None) -> bool:
    """Write the template at ``path`` atomically. Returns False (and leaves the existing store
    alone) when another process created ``path`` first."""
    import zarr

    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    try:
        ds, encoding = template(spec, out_struct, device=device)
        ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False, encoding=encoding, write_empty_chunks=False)
        group = zarr.open_group(tmp, mode="r+")
        group.create_group("progress").create_array(
            "chunk_done", shape=(spec.n_chunks,), chunks=(1,), dtype=bool, fill_value=False,
            attributes={"description": "chunk k (members k*chunk_size ...) written completely"},
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
            zarr.consolidate_metadata(tmp)
        try:
            os.rename(tmp, path)
        except OSError:
            if os.path.exists(path):
                return False
            raise
        return True
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _attrs(path) -> dict:
    import zarr

    return dict(zarr.open_group(path, mode="r", use_consolidated=False).attrs)


def read_spec(path) -> SweepSpec:
    """The spec stored in a database (re-parsed from its TOML text)."""
    a = _attrs(path)
    spec = parse_spec(a["spec_toml"], path=a.get("spec_path") or None)
    return spec.with_chunk_size(int(a["chunk_size"]))


def _diff(old, new, prefix=""):
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += _diff(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [f"{prefix[:-1]}: stored {json.dumps(old)[:80]}, given {json.dumps(new)[:80]}"]


def check_store(path, spec: SweepSpec, *, chunk_size_given: bool) -> SweepSpec:
    """Refuse to continue a store built from another spec; returns ``spec`` with the store's
    chunk size (a store's chunk size is fixed when it is created)."""
    if not is_sweep_store(path):
        raise SweepError(f"{path} exists but is not a jaxneuron sweep database; choose another --out")
    a = _attrs(path)
    stored = json.loads(a["spec_json"])
    old = stored.get("schema", 1)
    if old != SCHEMA:
        what = " (keys transient_ms, window_ms, save_dt_ms; engine \"vmap\")" if old == 1 else ""
        raise SweepError(f"{path} was written with sweep spec schema {old}{what}; this jaxneuron writes schema "
                         f"{SCHEMA}, so it cannot be resumed. Use --overwrite to start again, or another --out.")  # fmt: skip
    diffs = _diff(stored, json.loads(json.dumps(spec.canonical())))
    if diffs:
        raise SweepError(f"the spec differs from the one {path} was created with; refusing to mix results:\n  "
                         + "\n  ".join(diffs) + "\nUse --overwrite to start again, or another --out.")  # fmt: skip
    cs = int(a["chunk_size"])
    if chunk_size_given and spec.chunk_size != cs:
        raise SweepError(f"{path} was created with chunk size {cs}; a resumed sweep keeps it (drop --chunk-size {spec.chunk_size})")
    return spec.with_chunk_size(cs)


def done_chunks(path) -> np.ndarray:
    """Boolean array: chunk k is completely written."""
    import zarr

    return np.asarray(zarr.open_array(path, path=_PROGRESS, mode="r")[:], dtype=bool)


def chunk_done(path, k: int) -> bool:
    """Chunk ``k`` is completely written (reads its flag only)."""
    import zarr

    return bool(zarr.open_array(path, path=_PROGRESS, mode="r")[k])


def write_chunk(path, spec: SweepSpec, k: int, features: dict, status, num_steps, traces) -> None:
    """Write chunk ``k``'s region (real members only), its kept traces, then its done flag."""
    import xarray as xr
    import zarr

    from .engine import chunk_members, chunk_trace_rows

    _, n_real = chunk_members(spec, k)
    start = k * spec.chunk_size
    data = {"status": ("member", np.asarray(status[:n_real], dtype=np.int8)),
            "num_steps": ("member", np.asarray(num_steps[:n_real]))}  # fmt: skip
    for name, v in features.items():
        v = np.asarray(v[:n_real])
        data[name] = (("member",) + _tail_dims(v.shape[1:]), v)
    xr.Dataset(data).to_zarr(path, region={"member": slice(start, start + n_real)}, mode="r+", consolidated=False)
    _, tslice = chunk_trace_rows(spec, k)
    n_tr = tslice.stop - tslice.start
    if n_tr:
        V = np.asarray(traces[:n_tr], dtype=np.float32)
        dims = ("trace_member", "cell", "time") if V.ndim == 3 else ("trace_member", "time")
        xr.Dataset({"V": (dims, V)}).to_zarr(path, region={"trace_member": tslice}, mode="r+", consolidated=False)
    zarr.open_array(path, path=_PROGRESS, mode="r+")[k] = True
