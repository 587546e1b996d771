"""Run ``jaxneuron sweep ARGS...`` and kill this process with SIGKILL at a fixed point of the sweep:
while chunk K is written, after its data region and kept traces are in the store and before its
done flag is set (the worst moment for a crash: the data are there but must not count).

Usage: ``python _kill_helper.py K ARGS...`` (the arguments of ``jaxneuron sweep``). Exits by
SIGKILL (return code -9) when the kill point is reached; with 3 and a message otherwise.
"""

import inspect
import os
import signal
import sys

import zarr

import jaxneuron.survey.run as run
import jaxneuron.survey.store as store
from jaxneuron.cli import main

KILL_AT = int(sys.argv[1])
write_chunk = store.write_chunk
open_array = zarr.open_array


def open_array_then_die(*args, **kwargs):
    """zarr.open_array while chunk KILL_AT is written: opening the done flags for writing is the
    moment the chunk's data are complete and its flag is not yet set."""
    path = str(kwargs.get("path", args[1] if len(args) > 1 else ""))
    if path.endswith("chunk_done") and kwargs.get("mode", "a") != "r":
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return open_array(*args, **kwargs)


def write_chunk_killed_at_k(*args, **kwargs):
    k = inspect.signature(write_chunk).bind(*args, **kwargs).arguments["k"]
    if k != KILL_AT:
        return write_chunk(*args, **kwargs)
    zarr.open_array = open_array_then_die
    try:
        write_chunk(*args, **kwargs)
    finally:
        zarr.open_array = open_array
    print(f"kill point not reached: writing chunk {k} never opened its done flag for writing", file=sys.stderr)
    os._exit(3)


store.write_chunk = write_chunk_killed_at_k
if getattr(run, "write_chunk", None) is write_chunk:  # the run loop's own reference (from .store import write_chunk)
    run.write_chunk = write_chunk_killed_at_k
status = main(["sweep", *sys.argv[2:]])
print(f"the sweep ended (exit status {status}) without reaching chunk {KILL_AT}", file=sys.stderr)
sys.exit(3)
