"""Shared small sweep specs and database comparison for the sweep tests."""

import numpy as np
import xarray as xr

# 9 Hodgkin-Huxley members (3 currents x 3 g_K): silent and tonic ones; cheap ExpEuler protocol
# on the default (queue) engine. Times in ms: t_end = 20 + 150 = 170.
SMALL = """
description = "small test sweep"
model = "hh"
seed = 5
chunk_size = 4
[protocol]
transient = 20.0
window = 150.0
save_dt = 0.1
[solver]
name = "expeuler"
dt = 0.025
[traces]
keep = 4
save_dt = 0.2
[space]
kind = "grid"
[space.axes]
"stimulus.amplitude" = {values = [0.0, 4.0, 10.0]}
g_K = {linspace = [30.0, 40.0, 3]}
"""

# The same model over more chunks (for interrupting, resuming and sharding in subprocesses).
MANY_CHUNKS = SMALL.replace("chunk_size = 4", "chunk_size = 2").replace(
    '{values = [0.0, 4.0, 10.0]}', '{linspace = [0.0, 12.0, 12]}'
).replace("window = 150.0", "window = 400.0")

LAYOUT_ATTRS = {"created_utc", "device", "chunk_size", "n_chunks", "spec_path", "spec_toml"}


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def assert_same_database(a, b, *, ignore_attrs=LAYOUT_ATTRS, rtol=0.0):
    """Equal coordinates, variables (bitwise by default, NaN == NaN) and attributes (but layout/time).

    ``rtol > 0`` compares floating-point variables to that relative tolerance (integers, labels and
    status stay exact): needed across *different chunk shapes*, where XLA vectorises the batch
    differently and results may differ in the last bits.
    """
    a, b = (xr.open_zarr(p) if isinstance(p, str) else p for p in (a, b))
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        x, y = a[name].values, b[name].values
        assert x.dtype == y.dtype, name
        if rtol and np.issubdtype(x.dtype, np.floating):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)
    keys = (set(a.attrs) | set(b.attrs)) - set(ignore_attrs)
    assert {k: a.attrs.get(k) for k in keys} == {k: b.attrs.get(k) for k in keys}
