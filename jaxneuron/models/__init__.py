"""Neuron models: immutable equinox Modules whose parameters are array leaves."""

from .base import AbstractNeuron, parameter_info
from .interface import AbstractModel, Event, TableKinetics
from .hh import HodgkinHuxley
from .stg import PRINZ2003_SETS, PRINZ2004_CELLS, STG_CONDUCTANCES, Liu1998, Prinz2003
from .synapses import TRANSMITTERS, ExponentialSynapse, GapJunction, GradedSynapse
from .network import Network
from .pyloric import PYLORIC_CELLS, PYLORIC_EXAMPLES, PYLORIC_SYNAPSES, Pyloric2004
from .integrate_fire import IZHIKEVICH_PRESETS, AbstractIntegrateFire, AdEx, Izhikevich, LIF

MODELS = {"hh": HodgkinHuxley, "hodgkinhuxley": HodgkinHuxley, "prinz2003": Prinz2003, "liu1998": Liu1998,
          "pyloric2004": Pyloric2004, "lif": LIF, "adex": AdEx, "izhikevich": Izhikevich}
"""Models by (case-insensitive) name, for the CLI and sweep files."""


def get_model_class(name: str):
    """Model class by name; a clear error lists the valid names."""
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; valid models: {sorted(set(MODELS))}") from None


def model_parameters(cls) -> list[str]:
    """Names a model class is built from: its parameter fields, or for a class with its own
    constructor (:class:`Pyloric2004`) the constructor's keywords."""
    info = parameter_info(cls)
    if info:
        return list(info)
    import inspect

    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def make_model(name: str, **params):
    """Build model ``name`` with keyword parameters, naming the valid parameters on a typo."""
    cls = get_model_class(name)
    valid = model_parameters(cls)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for {cls.__name__}; valid parameters: {list(valid)}")
    return cls(**params)


__all__ = [
    "AbstractModel", "AbstractNeuron", "Event", "TableKinetics", "HodgkinHuxley", "Prinz2003", "Liu1998", "MODELS", "PRINZ2003_SETS", "PRINZ2004_CELLS",
    "STG_CONDUCTANCES", "get_model_class", "make_model", "model_parameters", "parameter_info", "Network",
    "GradedSynapse", "GapJunction", "ExponentialSynapse", "TRANSMITTERS", "Pyloric2004", "PYLORIC_CELLS", "PYLORIC_SYNAPSES", "PYLORIC_EXAMPLES",
    "AbstractIntegrateFire", "LIF", "AdEx", "Izhikevich", "IZHIKEVICH_PRESETS",
]  # fmt: skip
