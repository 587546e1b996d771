"""Channel kinetics: small pure functions shared by every model that uses them."""

from . import calcium, common, hh, stg
from .common import boltzmann, exprel, phi1

__all__ = ["calcium", "common", "hh", "stg", "boltzmann", "exprel", "phi1"]
