"""Numerical precision policy.

jaxneuron runs in float64 by default: importing the package switches on ``jax_enable_x64``.
Implicit solvers need it (their Newton iterations fail in float32 on stiff neuron models) and
spike timing of bursting cells drifts quickly in float32. Explicit solvers may be asked for
float32 explicitly (``ExpEuler(dtype="float32")``) where speed matters more than accuracy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["enable_float64", "check_float64"]


def enable_float64() -> None:
    jax.config.update("jax_enable_x64", True)


def check_float64(solver) -> jnp.dtype:
    """The dtype a solve runs in; refuses float64 work when x64 has been switched off."""
    if solver.dtype == "float32":
        return jnp.float32
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            f"{type(solver).__name__} needs float64 but jax_enable_x64 is off (something called "
            "jax.config.update('jax_enable_x64', False) after importing jaxneuron). Switch it back on, "
            "or choose an explicit solver with dtype='float32'."
        )
    return jnp.float64
