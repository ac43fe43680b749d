"""gridsim: Numba-accelerated transmission power flow.

Data flow: ``io`` (MATPOWER, pandapower, YAML) → :class:`Network` (validated tables) →
``compile`` (arrays) → ``numerics``/``solvers`` (Numba kernels) → ``analysis`` →
results (pandas tables).
"""

from importlib import import_module

# Public names and the modules that define them. They are imported on first use
# (PEP 562), so ``import gridsim`` and a first power flow do not pay for the
# contingency, sensitivity, transfer and converter modules.
_EXPORTS = {
    "ac_contingency": "gridsim.analysis.contingency",
    "ac_outage": "gridsim.analysis.contingency",
    "contingency_summary": "gridsim.analysis.contingency",
    "iter_contingency": "gridsim.analysis.contingency",
    "ContingencyResult": "gridsim.analysis.contingency",
    "run_ac": "gridsim.analysis.powerflow",
    "run_dc": "gridsim.analysis.powerflow",
    "dc_contingency": "gridsim.analysis.sensitivity",
    "hvdc_ptdf": "gridsim.analysis.sensitivity",
    "lodf": "gridsim.analysis.sensitivity",
    "ptdf": "gridsim.analysis.sensitivity",
    "zone_ptdf": "gridsim.analysis.sensitivity",
    "DcN1Flows": "gridsim.analysis.sensitivity",
    "dc_n1_flows": "gridsim.analysis.sensitivity",
    "Outage": "gridsim.analysis.outages",
    "OutageResult": "gridsim.analysis.outages",
    "apply_outage": "gridsim.analysis.outages",
    "exceptional_contingencies": "gridsim.analysis.outages",
    "ordinary_contingencies": "gridsim.analysis.outages",
    "solve_outage": "gridsim.analysis.outages",
    "Interface": "gridsim.analysis.scopf",
    "LinearisedGrid": "gridsim.analysis.scopf",
    "ScopfResult": "gridsim.analysis.scopf",
    "max_transfer": "gridsim.analysis.scopf",
    "secure_base_case": "gridsim.analysis.scopf",
    "CnecSelection": "gridsim.analysis.cnec",
    "select_cnecs": "gridsim.analysis.cnec",
    "TtcResult": "gridsim.analysis.ttc",
    "n1_ttc": "gridsim.analysis.ttc",
    "secured_base": "gridsim.analysis.ttc",
    "SecuredBase": "gridsim.analysis.ttc",
    "expansion_path": "gridsim.analysis.expansion",
    "read_candidates": "gridsim.io.candidates",
    "continuation": "gridsim.analysis.continuation",
    "ContinuationResult": "gridsim.analysis.continuation",
    "Direction": "gridsim.analysis.continuation",
    "TransferError": "gridsim.analysis.transfer",
    "TransferResult": "gridsim.analysis.transfer",
    "TransferSolverError": "gridsim.analysis.transfer",
    "apply_transfer": "gridsim.analysis.transfer",
    "transfer_capability": "gridsim.analysis.transfer",
    "BatchPowerFlowResult": "gridsim.analysis.batch",
    "run_ac_batch": "gridsim.analysis.batch",
    "ParameterError": "gridsim.analysis.sweep",
    "apply_parameters": "gridsim.analysis.sweep",
    "sweep": "gridsim.analysis.sweep",
    "ConvergenceError": "gridsim.exceptions",
    "GridsimError": "gridsim.exceptions",
    "InvalidNetworkError": "gridsim.exceptions",
    "UnsupportedElementError": "gridsim.exceptions",
    "from_pandapower": "gridsim.io",
    "load_network": "gridsim.io",
    "read_matpower": "gridsim.io",
    "to_pandapower": "gridsim.io",
    "Network": "gridsim.model.network",
    "PowerFlowResult": "gridsim.results",
}


# subpackages reachable as ``gridsim.NAME`` after ``import gridsim``
_SUBPACKAGES = ("study", "plot")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return import_module(f"gridsim.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gridsim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBPACKAGES))


__version__ = "0.1.0"

__all__ = sorted(_EXPORTS)
