"""Which of XLA's two CPU runtimes each compiled solver program runs on.

jax 0.6.2's XLA CPU has two runtimes. The default *thunk* runtime launches every fused kernel
of a program separately. The *classic* runtime (``xla_cpu_use_thunk_runtime=False``) compiles the
whole program into one native function. Which is faster depends on the program, so the choice
is made per compiled program through XLA compiler options (``jax.jit(..., compiler_options=...)``),
never through process-wide flags, and only on CPU, where this jaxlib accepts the option.

Measured on 2 cores (2 host devices), Prinz cells, neuron-s/s, thunk -> classic:

| program | thunk | classic | used |
|---|---|---|---|
| work queue, Tsit5 (1,024 members, 1 s) | 533 | 791 | classic |
| work queue, Kvaerno5 (same) | 172 | 288 | classic |
| work queue, Tsit5 (10,000 members, 2 s; blocks of 2,048 per device) | 688 | 947 | classic |
| Diffrax engine, Tsit5 (512, 0.3 s) | 232 | 279 | thunk |
| Diffrax engine, Tsit5 (2,000, 2 s; benchmark) | 289 | 146 | thunk |
| Diffrax engine, Kvaerno5 (8, 0.3 s; dense LU) | 1.22 | 0.27 | thunk |
| Diffrax engine, ExpEuler (256, 0.2 s) | 153 | 159 | thunk (no gain) |
| work queue, ExpEuler float64 (4,096, 0.5 s) | 206 | 450 | classic |
| work queue, ExpEuler float32 | 628 | 474 | thunk |
| work queue, ExpEuler tabulated (gathers), float64 / float32 | 912 / 1,421 | 325 / 554 | thunk |
| demo sweep, queue engine (256 members, 20 s; with Diffrax traces) | 52 s | 156 s | thunk |
| work queue, Kvaerno5 (2,000 members, 2 s, V saved every 0.1 ms: ``simulate``'s default) | 154 | 292 | classic |

Saving traces from the queue was 3x slower on the classic runtime while its saves were written by
a loop nested in the step loop (48 cells of 20 s saving V every 0.1 ms: 22.4 s against 6.9 s; the
nested loop's copies of the trace buffer); they are now written by one scatter per step (at most
16 save times per step, :data:`jaxneuron.solvers.queue.SAVES_PER_STEP`), and the classic runtime
wins there too (last row).

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

__all__ = ["CLASSIC_CPU", "MIN_NEURON_SECONDS", "classic_cpu_available", "use_classic_cpu", "runtime_jit"]

CLASSIC_CPU = {"xla_cpu_use_thunk_runtime": False}
"""The compiler options that select the classic CPU runtime."""

MIN_NEURON_SECONDS = {"adaptive": 5000.0, "fixed": 200.0}
"""Smallest job (members x seconds of model time) compiled for the classic runtime: near the
break-even of the extra compile time against the faster run (work queue, adaptive: Tsit5 ~6,000,
Kvaerno5 ~2,000 neuron-s; the float64 fixed-step path ~100)."""


@functools.cache
def classic_cpu_available() -> bool:
    """Whether this jaxlib compiles with :data:`CLASSIC_CPU` (checked once, on the CPU backend)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=CLASSIC_CPU).lower(1.0).compile()
    except Exception:  # an XLA without the option: stay on its default runtime
        return False
    return True


def use_classic_cpu(engine: str, solver, neuron_seconds: float) -> bool:
    """The one runtime choice: whether a solve with ``solver`` on ``engine`` (``"queue"`` or
    ``"diffrax"``) of ``neuron_seconds`` (members x model seconds) is compiled for the classic CPU
    runtime (when on CPU). The measured choice of the table above: the work queue's adaptive
    loops and its untabulated float64 fixed-step path, when the job is large enough to repay the
    compile; never the Diffrax engine or the tables."""
    from .choices import ExpEuler

    if engine != "queue":
        return False
    if isinstance(solver, ExpEuler):
        return solver.table_mode is None and solver.dtype == "float64" and neuron_seconds >= MIN_NEURON_SECONDS["fixed"]
    return neuron_seconds >= MIN_NEURON_SECONDS["adaptive"]


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
