"""jaxneuron: conductance-based neuron models as pure JAX vector fields, simulated and swept by the million.

Importing jaxneuron switches JAX to float64 (``jax_enable_x64``: implicit solvers need it) and,
unless JAX has started or the user chose a count, gives JAX one CPU device per core so that
every engine uses every core (:mod:`jaxneuron._devices`; :func:`use_cores` to choose).
"""

from ._config import enable_float64
from ._devices import default_cores, use_cores as use_cores

enable_float64()
default_cores()

from . import channels, models, solvers, stimulus  # noqa: E402
from .models import (  # noqa: E402
    MODELS as MODELS,
    PRINZ2003_SETS as PRINZ2003_SETS,
    PRINZ2004_CELLS as PRINZ2004_CELLS,
    STG_CONDUCTANCES as STG_CONDUCTANCES,
    AbstractModel as AbstractModel,
    AbstractNeuron as AbstractNeuron,
    Event as Event,
    TableKinetics as TableKinetics,
    HodgkinHuxley as HodgkinHuxley,
    Liu1998 as Liu1998,
    Prinz2003 as Prinz2003,
    make_model as make_model,
    Network as Network,
    GradedSynapse as GradedSynapse,
    GapJunction as GapJunction,
    ExponentialSynapse as ExponentialSynapse,
    Pyloric2004 as Pyloric2004,
    PYLORIC_CELLS as PYLORIC_CELLS,
    PYLORIC_EXAMPLES as PYLORIC_EXAMPLES,
    PYLORIC_SYNAPSES as PYLORIC_SYNAPSES,
    LIF as LIF,
    AdEx as AdEx,
    Izhikevich as Izhikevich,
    IZHIKEVICH_PRESETS as IZHIKEVICH_PRESETS,
)
from .simulate import STATUS as STATUS, SaveAt as SaveAt, Solution as Solution, Status as Status  # noqa: E402
from .simulate import simulate as simulate  # noqa: E402
from .spiking import activity_from_spikes as activity_from_spikes  # noqa: E402
from .solvers import DiffraxEngine as DiffraxEngine, QueueEngine as QueueEngine  # noqa: E402
from .solvers import ExpEuler as ExpEuler, Kvaerno3 as Kvaerno3, Kvaerno5 as Kvaerno5, Tsit5 as Tsit5  # noqa: E402
from .stimulus import (  # noqa: E402
    Constant as Constant,
    Function as Function,
    PulseTrain as PulseTrain,
    Sampled as Sampled,
    Sine as Sine,
    Step as Step,
)

__version__ = "0.1.0"
from .analysis import (  # noqa: E402
    ACTIVITY_LABELS as ACTIVITY_LABELS,
    Activity as Activity,
    activity as activity,
    fi_curve as fi_curve,
    RHYTHM_DEFAULTS as RHYTHM_DEFAULTS,
    Rhythm as Rhythm,
    pyloric_features as pyloric_features,
    rhythm_from_solution as rhythm_from_solution,
    rhythm_from_spikes as rhythm_from_spikes,
    rhythm_vector as rhythm_vector,
    spike_times as spike_times,
)
from .survey import (  # noqa: E402
    SweepError as SweepError,
    SweepSpec as SweepSpec,
    SweepSpecError as SweepSpecError,
    SweepSummary as SweepSummary,
    load_spec as load_spec,
    sweep as sweep,
)
from .fit import FitResult as FitResult, fit as fit, losses as losses  # noqa: E402
