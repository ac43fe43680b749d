"""gridsim: Numba-accelerated transmission power flow.

Data flow: ``io`` (MATPOWER, pandapower, YAML) → :class:`Network` (validated tables) →
``compile`` (arrays) → ``numerics``/``solvers`` (Numba kernels) → ``analysis`` →
results (pandas tables).
"""

from gridsim.analysis.contingency import ac_contingency, ac_outage, contingency_summary
from gridsim.analysis.powerflow import run_ac, run_dc
from gridsim.analysis.sensitivity import dc_contingency, hvdc_ptdf, lodf, ptdf, zone_ptdf
from gridsim.analysis.transfer import transfer_capability
from gridsim.exceptions import (
    ConvergenceError,
    GridsimError,
    InvalidNetworkError,
    UnsupportedElementError,
)
from gridsim.io import from_pandapower, load_network, read_matpower, to_pandapower
from gridsim.model.network import Network
from gridsim.results import PowerFlowResult

__version__ = "0.1.0"

__all__ = [
    "ConvergenceError",
    "GridsimError",
    "InvalidNetworkError",
    "Network",
    "PowerFlowResult",
    "UnsupportedElementError",
    "ac_contingency",
    "ac_outage",
    "contingency_summary",
    "dc_contingency",
    "from_pandapower",
    "hvdc_ptdf",
    "lodf",
    "ptdf",
    "load_network",
    "read_matpower",
    "run_ac",
    "run_dc",
    "to_pandapower",
    "transfer_capability",
    "zone_ptdf",
]
