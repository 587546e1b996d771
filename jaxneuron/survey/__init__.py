"""Parameter sweeps: describe a survey in a TOML file, run it in fixed-shape chunks (resumable,
shardable), and store it as a labelled Zarr v3 database (``xarray.open_zarr``).

``jaxneuron.sweep(spec, out, ...)`` (:func:`jaxneuron.survey.run.sweep`) runs a sweep.

* :mod:`.spec` parses and validates the TOML file (:func:`load_spec`, :class:`SweepSpec`);
* :mod:`.space` maps member ``i`` to its parameters (grid, random, Latin hypercube, Sobol, table);
* :mod:`.engine` simulates and reduces one chunk on the device (compiled once per sweep);
* :mod:`.store` writes the template, the chunk regions and their done flags;
* :mod:`.run` drives it all (:func:`sweep`); :mod:`.plots` draws the figures; :mod:`.cli` is
  the ``jaxneuron sweep | info | plot | export`` commands.

Network sweeps (``model = "pyloric2004"``): :mod:`.network` (cell slots, synapse and conductance
axes, warm start), :mod:`.network_engine` (the chunk program: per-cell activity and rhythm
features), :mod:`.plots_network` (rhythm class map, period map, stacked traces).
"""

from .run import SweepSummary, parse_shard, sweep
from .spec import SweepSpec, SweepSpecError, load_spec, parse_spec
from .store import SweepError

__all__ = ["sweep", "SweepSummary", "SweepSpec", "SweepSpecError", "SweepError", "load_spec", "parse_spec", "parse_shard"]
