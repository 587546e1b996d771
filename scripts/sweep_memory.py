"""Peak memory of a sweep against its number of members: it must be bounded by the chunk size.

Runs the same cheap sweep (Hodgkin-Huxley, random currents and g_K, 50 ms of ExpEuler, chunks
of 256 members) with 2,000 and with 20,000 members, each in a fresh interpreter, and prints
each run's peak resident memory (``ru_maxrss``) and wall time.

    python scripts/sweep_memory.py                  # 2,000 and 20,000 members
    python scripts/sweep_memory.py 2000 20000 200000
"""

import json
import os
import subprocess
import sys
import tempfile

SPEC = """
description = "memory probe: {n} HH members"
model = "hh"
seed = 0
chunk_size = 256
[protocol]
transient = 10.0
window = 40.0
save_dt = 0.1
[solver]
name = "expeuler"
dt = 0.025
[traces]
keep = 32
[space]
kind = "random"
n = {n}
[space.axes]
"stimulus.amplitude" = {{uniform = [0.0, 20.0]}}
g_K = {{uniform = [20.0, 50.0]}}
"""

CHILD = """
import json, resource, sys, time
import jaxneuron as jn
t = time.perf_counter()
summary = jn.sweep(sys.argv[1], sys.argv[2], progress=False)
wall = time.perf_counter() - t
print(json.dumps({"members": summary.n_members, "chunks": summary.n_chunks, "wall_s": wall,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(n: int, workdir: str) -> dict:
    spec = os.path.join(workdir, f"mem{n}.toml")
    with open(spec, "w") as f:
        f.write(SPEC.format(n=n))
    out = subprocess.run([sys.executable, "-c", CHILD, spec, os.path.join(workdir, f"mem{n}.zarr")],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv):
    sizes = [int(a) for a in argv] or [2000, 20000]
    with tempfile.TemporaryDirectory() as d:
        rows = [measure(n, d) for n in sizes]
    print(f"{'members':>9} {'chunks':>7} {'wall (s)':>9} {'peak RSS (MiB)':>15}")
    for r in rows:
        print(f"{r['members']:>9,} {r['chunks']:>7} {r['wall_s']:>9.1f} {r['peak_rss_mib']:>15.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
