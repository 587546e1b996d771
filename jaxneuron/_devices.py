"""Every CPU core, with no flags.

XLA's CPU backend runs one device's loop on one core, and JAX gives a process one CPU device
unless told otherwise *before its backend starts*. So ``import jaxneuron`` asks for one CPU
device per core this process may run on (``os.sched_getaffinity``), when

* JAX has not started its backends yet (import jaxneuron before running any JAX computation), and
* the user has not chosen a count (``JAX_NUM_CPU_DEVICES``, ``jax.config.update("jax_num_cpu_devices", N)``
  or ``XLA_FLAGS=--xla_force_host_platform_device_count=N``: those win).

Every engine then splits its members over the devices (:mod:`jaxneuron.solvers.members`). The one
call for a Python user who needs to choose is :func:`use_cores` (before any JAX computation); the
one variable is ``JAX_NUM_CPU_DEVICES``. When a batch job finds one CPU device on a machine with
several cores, it warns once (:func:`warn_if_one_core`). Accelerators are unaffected: the default
backend is then the GPU/TPU, and its devices are used.
"""

from __future__ import annotations

import os
import warnings

import jax

__all__ = ["available_cores", "use_cores", "warn_if_one_core"]

_WARNED = [False]


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _backends_started() -> bool:
    from jax._src import xla_bridge

    return xla_bridge.backends_are_initialized()


def _user_chose() -> bool:
    return (
        "JAX_NUM_CPU_DEVICES" in os.environ
        or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
        or jax.config.jax_num_cpu_devices > 0
    )


def use_cores(n: int | None = None) -> int:
    """Give JAX ``n`` CPU devices (default: one per available core), so that every engine uses
    ``n`` cores. Must run before the first JAX computation of the process; returns ``n``."""
    n = available_cores() if n is None else n
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"use_cores: n must be a positive integer (CPU devices), got {n!r}")
    if _backends_started():
        have = len(jax.devices("cpu"))
        if have == n:
            return n
        raise RuntimeError(
            f"use_cores({n}): JAX has already started with {have} CPU device(s); call it (or import jaxneuron) "
            f"before the first JAX computation, or set JAX_NUM_CPU_DEVICES={n} in the environment"
        )
    jax.config.update("jax_num_cpu_devices", n)
    return n


def default_cores() -> None:
    """At import: one CPU device per core, unless the user chose or JAX has already started."""
    if not _user_chose() and not _backends_started() and available_cores() > 1:
        jax.config.update("jax_num_cpu_devices", available_cores())


def warn_if_one_core(n_members: int) -> None:
    """Warn once per process when a batch of ``n_members`` > 1 runs on one CPU device of several cores."""
    if _WARNED[0] or n_members < 2 or jax.default_backend() != "cpu":
        return
    cores = available_cores()
    if cores > 1 and len(jax.local_devices()) == 1:
        _WARNED[0] = True
        warnings.warn(
            f"jaxneuron is running on 1 CPU device of {cores} cores: JAX had started before jaxneuron was imported "
            f"(or a device count of 1 was chosen). Import jaxneuron first, call jaxneuron.use_cores() before any JAX "
            f"computation, or set JAX_NUM_CPU_DEVICES={cores}.",
            RuntimeWarning, stacklevel=3,
        )  # fmt: skip
