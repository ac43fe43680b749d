"""The main job: how much can Azerbaijan export to Serbia and the EU, N-1 secure?

:func:`run_study` computes, on a bundled corridor network (``networks/caspian_eu.yaml``
or ``networks/corridor_substation.yaml``) for 2026, 2030 and 2032, the N-0 and N-1
transfer capability from Azerbaijan to Serbia and to the EU, overall and per HVDC route,
with the limiting elements; the MW each reinforcement gains; and the Niš plant site
comparison (losses, loadings, N-1 margins). What is computed on each model is its
:class:`gridsim.study.cases.StudyCases`. It writes a Markdown report, a
self-contained HTML page, the figures and every number as CSV and Parquet::

    out/study/report.md, report.html, meta.json, figures/*.png, data/*.csv|parquet

What is computed is data in :mod:`gridsim.study.cases`; :func:`case_network` rebuilds
the network of any case, so each number can be reproduced by one
:func:`gridsim.transfer_capability` call.
"""

from gridsim.study.job import StudyResult, default_network, run_study
from gridsim.study.runner import case_network, route_shares

__all__ = ["StudyResult", "case_network", "default_network", "route_shares", "run_study"]
