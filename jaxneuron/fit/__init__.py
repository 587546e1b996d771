"""Gradient-based fitting: :func:`fit` (many starts as one compiled batch), :mod:`.losses`
(trace, feature surrogates, user losses), :mod:`.transforms` (bounded reparameterisation),
:func:`nearest` (survey-seeded starts), :mod:`.plots` and the ``jaxneuron fit`` command (:mod:`.cli`)."""

from . import losses, transforms
from .fit import FIT_STATUS, FitResult, fit, fitted_leaves, gradient_function, loss_and_gradient, with_params
from .nearest import nearest

__all__ = ["fit", "FitResult", "FIT_STATUS", "fitted_leaves", "with_params", "loss_and_gradient", "gradient_function", "losses", "transforms", "nearest"]
