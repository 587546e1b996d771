"""Which of XLA's two CPU runtimes each compiled solver program runs on.

jax 0.6.2's XLA CPU has two runtimes. The default *thunk* runtime launches every fused kernel
of a program separately. The *classic* runtime (``xla_cpu_use_thunk_runtime=False``) compiles the
whole program into one native function. Which is faster depends on the program, so the choice
is made per compiled program through XLA compiler options (``jax.jit(..., compiler_options=...)``),
never through process-wide flags, and only on CPU, where this jaxlib accepts the option.

Measured on 2 cores (2 host devices), Prinz cells, neuron-s/s, thunk -> classic:

| program | thunk | classic | used |
|---|---|---|---|
| ``simulate_spikes`` Tsit5 (1,024 members, 1 s) | 533 | 791 | classic |
| ``simulate_spikes`` Kvaerno5 (same) | 172 | 288 | classic |
| ``simulate_spikes`` Tsit5 (10,000 members, 2 s; blocks of 2,048 per device) | 688 | 947 | classic |
| ``simulate`` Tsit5, vmapped Diffrax (512, 0.3 s) | 232 | 279 | thunk |
| ``simulate`` Tsit5, vmapped Diffrax (2,000, 2 s; benchmark) | 289 | 146 | thunk |
| ``simulate`` Kvaerno5, vmapped Diffrax (8, 0.3 s; dense LU) | 1.22 | 0.27 | thunk |
| ``simulate`` ExpEuler, Diffrax loop (256, 0.2 s) | 153 | 159 | thunk (no gain) |
| ``ExpEuler`` fast path, float64 (4,096, 0.5 s) | 206 | 450 | classic |
| ``ExpEuler`` fast path, float32 | 628 | 474 | thunk |
| ``ExpEuler`` tabulated (gathers), float64 / float32 | 912 / 1,421 | 325 / 554 | thunk |
| demo sweep, queue engine (256 members, 20 s; with Diffrax traces) | 52 s | 156 s | thunk |

The adaptive loops are made of many small kernels (64 slots, 13 states), whose launches dominate
on the thunk runtime; gathers and LAPACK calls run faster on it. The classic runtime compiles
about twice as slowly (work-queue programs: Tsit5 3.9 -> 7.7 s, Kvaerno5 6.6 -> 12.8 s; the
vmapped ones +0.2 s), so it is only used for jobs large enough to win it back
(:data:`MIN_NEURON_SECONDS`). Sweep chunk programs stay on the default runtime (they also save
traces through Diffrax: last row of the table).
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax

__all__ = ["CLASSIC_CPU", "MIN_NEURON_SECONDS", "classic_cpu_available", "prefers_classic_cpu", "use_classic_cpu",
           "runtime_jit"]

CLASSIC_CPU = {"xla_cpu_use_thunk_runtime": False}
"""The compiler options that select the classic CPU runtime."""

MIN_NEURON_SECONDS = {"queue": 5000.0, "vmap": 200.0}
"""Smallest job (members x seconds of model time) compiled for the classic runtime, per engine:
near the break-even of the extra compile time against the faster run (work queue: Tsit5 ~6,000,
Kvaerno5 ~2,000 neuron-s; the float64 ExpEuler fast path ~100)."""


@functools.cache
def classic_cpu_available() -> bool:
    """Whether this jaxlib compiles with :data:`CLASSIC_CPU` (checked once, on the CPU backend)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=CLASSIC_CPU).lower(1.0).compile()
    except Exception:  # an XLA without the option: stay on its default runtime
        return False
    return True


def prefers_classic_cpu(solver, engine: str = "vmap") -> bool:
    """The measured choice for a solve with ``solver`` (a solver choice of
    :mod:`jaxneuron.solvers.choices`) on ``engine`` (``"vmap"`` or ``"queue"``): see the table above."""
    from .choices import ExpEuler

    if engine == "queue":
        return True
    if isinstance(solver, ExpEuler):
        return solver.fast and solver.table_mode is None and solver.dtype == "float64"
    return False  # vmapped Diffrax solves: the classic runtime lost at benchmark size


def use_classic_cpu(solver, engine: str, neuron_seconds: float) -> bool:
    """Whether a job of ``neuron_seconds`` (members x model seconds) with ``solver`` on ``engine``
    is compiled for the classic runtime (when on CPU): preferred and large enough."""
    return prefers_classic_cpu(solver, engine) and neuron_seconds >= MIN_NEURON_SECONDS[engine]


def runtime_jit(fn=None, *, classic):
    """``equinox.filter_jit(fn)``, compiled with the classic CPU runtime when the backend is CPU and
    ``classic(*args, **kwargs)`` is true for the call (both variants are compiled on demand; inside
    an outer ``jit`` the outer program's runtime applies)."""
    if fn is None:
        return functools.partial(runtime_jit, classic=classic)
    default = eqx.filter_jit(fn)
    classic_fn = eqx.filter_jit(fn, compiler_options=CLASSIC_CPU)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        use = jax.default_backend() == "cpu" and classic(*args, **kwargs) and classic_cpu_available()
        return (classic_fn if use else default)(*args, **kwargs)

    return call
