"""What the study computes, per network model: years, sinks, routes, reinforcements, Niš
sites and the expansion targets.

Data only: :mod:`gridsim.study` turns these into tasks. Each bundled model has its
:class:`StudyCases` (element ids of that model's file), chosen by the network file's
stem (:func:`for_network`): ``corridor_substation`` (the substation-level model, the
default) and ``caspian_eu`` (the 96-bus sketch).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from gridsim.exceptions import GridsimError

SOURCE = "AZ"
"""The exporting zone (its non-slack generators raise their output)."""

SINKS: dict[str, str] = {"RS": "Serbia", "EU": "the EU (the network's group EU)"}
"""Sink areas (a zone code and a group of each bundled network) and how the report names
them."""


@dataclasses.dataclass(frozen=True)
class Route:
    """An HVDC path out of the Caucasus (UPS) synchronous area.

    The route's TTC forces the whole transfer through ``links`` (those of them in
    service and joining the source's AC island to the sink's; shares equal).
    """

    key: str
    label: str
    links: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Reinforcement:
    """A named set of network edits, studied in the listed years.

    Attributes
    ----------
    key, label : str
        Short id (file names, tables) and what the report calls it.
    edits : tuple of (element, id, field, value)
        Applied as the sweep parameter ``element:id:field`` (see
        :mod:`gridsim.analysis.sweep.params`) on the scenario's network; ``circuits``
        sets a line's circuits and scales its rating with them.
    years : tuple of str
        Years where it is studied (where it is not already in the scenario).
    forward : tuple of (from_zone, to_zone, link) or None
        For an HVDC link inside one synchronous area (which a transfer does not move):
        the power the scenario's export delivers in ``from_zone`` is sent on over
        ``link`` to ``to_zone`` (the link's setpoint), ``from_zone``'s generators raised
        and ``to_zone``'s lowered by the same amount, so the zones keep their balance.
    note : str
        Planned year and what the edit models.
    """

    key: str
    label: str
    edits: tuple[tuple[str, str, str, object], ...]
    years: tuple[str, ...]
    forward: tuple[str, str, str] | None = None
    note: str = ""


PACKAGE_KEY = "package"
"""Key of the cumulative package: every reinforcement studied in that year at once."""

PACKAGE_LABEL = "All of the above together"


@dataclasses.dataclass(frozen=True)
class Site:
    """A candidate site of the Niš CCGT: its scenario and connection.

    Attributes
    ----------
    key, label : str
        Short id and what the report calls it.
    scenario : str
        The scenario with the plant at this site, ``{year}`` standing for the year.
    bus : str
        The plant's bus.
    lines : tuple of str
        The connection's lines (its loading: the most loaded of them).
    """

    key: str
    label: str
    scenario: str
    bus: str
    lines: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class StudyCases:
    """Everything the study computes on one network model (element ids of its file).

    Attributes
    ----------
    model : str
        The network file's stem (``corridor_substation``).
    description : str
        What the model is, for the report's known limits.
    years : tuple of str
        Scenarios of the headline figures, one per year, named by the year.
    routes : tuple of Route
    reinforcements : tuple of Reinforcement
    nis_sites : tuple of Site
        The first is the base site of the comparison.
    nis_years : tuple of str
        Years of the site comparison.
    expansion_year : str
    expansion_targets_mw : tuple of float
        Export targets of the expansion path (N-1 TTC, MW on top of the year's schedule).
    quick_years, quick_reinforcements : tuple of str
        ``--quick`` (for tests): these years, these reinforcements and no package, the
        Niš sites in the first of ``nis_years`` without their TTCs.
    n1_note : str
        Said where an N-1 TTC is not defined (what would let the base case be secured).
    """

    model: str
    description: str
    years: tuple[str, ...]
    routes: tuple[Route, ...]
    reinforcements: tuple[Reinforcement, ...]
    nis_sites: tuple[Site, ...]
    nis_years: tuple[str, ...]
    expansion_year: str
    expansion_targets_mw: tuple[float, ...]
    quick_years: tuple[str, ...]
    quick_reinforcements: tuple[str, ...]
    n1_note: str

    def site_scenario(self, site: Site, year: str) -> str:
        """The scenario with the Niš plant at ``site`` in ``year``."""
        return site.scenario.format(year=year)


def _link(link: str) -> tuple[tuple[str, str, str, object], ...]:
    return (("hvdc", link, "in_service", True), ("hvdc", link, "p_mw", 0.0))


# The Black Sea cable's AC side (Anaklia 500 kV and its line to Jvari) comes with the
# first cable; in 2032 it is in the scenario already. Same ids in both models.
_ANAKLIA = (
    ("bus", "GE_ANAKLIA_500", "in_service", True),
    ("line", "L_GE_10", "in_service", True),
)
_BLACKSEA_1_NOTE = (
    "planned 2032 (in the 2032 scenario); earlier years: brought forward, with its Anaklia "
    "500 kV connection"
)
_SOFIA_NIS_2 = "Sofia West–Niš 2 second 400 kV circuit"
_TR_BG_3 = "Third Türkiye–Bulgaria 400 kV line (Hamitabat–Maritsa East)"
_AKH_EXT = "Akhaltsikhe converter extension (+350 MW)"
_YEARS = ("2026", "2030", "2032")
# The HVDC routes and projects, with the same ids in both bundled models.
_AKHALTSIKHE = Route("akhaltsikhe", "Akhaltsikhe B2B → Türkiye", ("DC_AKH_B2B", "DC_AKH_B2B_EXT"))
_BLACKSEA = Route(
    "blacksea", "Black Sea cables → Romania", ("DC_BLACKSEA_1", "DC_BLACKSEA_2", "DC_BLACKSEA_3")
)
_HVDC_REINFORCEMENTS = (
    Reinforcement(
        "blacksea_1",
        "Black Sea cable 1 (1,300 MW)",
        _ANAKLIA + _link("DC_BLACKSEA_1"),
        ("2026", "2030"),
        note=_BLACKSEA_1_NOTE,
    ),
    Reinforcement(
        "blacksea_2",
        "Black Sea cable 2 (+1,300 MW)",
        _link("DC_BLACKSEA_2"),
        ("2032",),
        note="proposed 2035; needs cable 1's Anaklia station",
    ),
    Reinforcement(
        "blacksea_2_3",
        "Black Sea cables 2 and 3 (+2,600 MW)",
        _link("DC_BLACKSEA_2") + _link("DC_BLACKSEA_3"),
        ("2032",),
        note="proposed 2035/2037",
    ),
    Reinforcement(
        "akhaltsikhe_ext", _AKH_EXT, _link("DC_AKH_B2B_EXT"), _YEARS, note="proposed 2030"
    ),
)

CASPIAN_EU = StudyCases(
    model="caspian_eu",
    description="The grid is a 100-bus equivalent: neighbouring systems are lumped, so flows "
    "on individual lines are indicative",
    years=_YEARS,
    routes=(
        _AKHALTSIKHE,
        Route("nakhchivan", "Nakhchivan converter → Türkiye", ("DC_NAX_CONV", "DC_NAX_ISLAND")),
        _BLACKSEA,
    ),
    reinforcements=(
        *_HVDC_REINFORCEMENTS,
        Reinforcement(
            "sofia_nis_2",
            _SOFIA_NIS_2,
            (("line", "L_BGRS_02", "in_service", True),),
            _YEARS,
            note="planned 2034",
        ),
        Reinforcement(
            "tr_bg_3",
            _TR_BG_3,
            (("line", "L_TRBG_03", "in_service", True),),
            _YEARS,
            note="proposed 2031",
        ),
        Reinforcement(
            "ro_hu_dc",
            "Romania–Hungary DC link (2,500 MW), forwarding the cable's power",
            _link("DC_RO_HU"),
            ("2032",),
            forward=("RO", "HU", "DC_RO_HU"),
            note="proposed 2030; inside one synchronous area, so it forwards the Black Sea "
            "cable's scheduled delivery from Constanța to Albertirsa (nothing to forward "
            "before the cable)",
        ),
    ),
    nis_sites=(
        Site("krusevac", "Kruševac (village; base)", "{year}", "RS_NISCCGT_KRUSEVAC", ("L_NIS_K",)),
        Site("trupale", "Trupale", "{year}-trupale", "RS_NISCCGT_TRUPALE", ("L_NIS_T",)),
        Site(
            "niskabanja",
            "Niška Banja",
            "{year}-niskabanja",
            "RS_NISCCGT_NISKABANJA",
            ("L_NIS_B",),
        ),
    ),
    nis_years=("2030", "2032"),
    expansion_year="2032",
    expansion_targets_mw=(1000.0, 2000.0, 4000.0, 6000.0, 8000.0),
    quick_years=("2026",),
    quick_reinforcements=("sofia_nis_2",),
    n1_note="the substation-level model (issue 19, `networks/corridor_substation.yaml`: "
    "busbars and the Turkish and Balkan equivalents opened up, generators within their "
    "ratings, reactive compensation), whose winter-peak base cases are secured by "
    "preventive redispatch and voltage control (networks/README.md): `gridsim study "
    "--network networks/corridor_substation.yaml`",
)
"""The 96-bus sketch ``networks/caspian_eu.yaml``."""

CORRIDOR_SUBSTATION = StudyCases(
    model="corridor_substation",
    description="The grid is modelled at substation level (220 kV and above, 816 buses; "
    "electrical parameters from standard types per voltage level, loads spread over "
    "substations by a proxy, neighbours beyond the region as boundary equivalents), so "
    "flows on individual lines are those of a planning model, not of a TSO's case",
    years=_YEARS,  # the scenario aliases of the winter peaks
    routes=(
        _AKHALTSIKHE,
        Route("nakhchivan", "Nakhchivan converter → Türkiye", ("DC_NAX_CONV",)),
        _BLACKSEA,
    ),
    reinforcements=(
        *_HVDC_REINFORCEMENTS,
        Reinforcement(
            "sofia_nis_2",
            _SOFIA_NIS_2,
            (("line", "L14699", "circuits", 2),),
            _YEARS,
            note="planned 2034; a second circuit on the map line Sofia West–Niš 2",
        ),
        Reinforcement(
            "tr_bg_3",
            _TR_BG_3,
            (("line", "L14722", "circuits", 2),),
            _YEARS,
            note="proposed 2031; a second circuit beside the map line Hamitabat–Maritsa "
            "East (110 km)",
        ),
    ),
    nis_sites=(
        Site(
            "krusce",
            "Krušce (Kruševac village)",
            "{year}_nis_krusce",
            "RS_NISCCGT_KRUSEVAC",
            ("L_RS_NISCCGT_KRUSEVAC",),
        ),
        Site(
            "trupale",
            "Trupale",
            "{year}_nis_trupale",
            "RS_NISCCGT_TRUPALE",
            ("L4236_trupale_from", "L4236_trupale_to"),
        ),
        Site(
            "niskabanja",
            "Niška Banja",
            "{year}_nis_niskabanja",
            "RS_NISCCGT_NISKABANJA",
            ("L14699_niskabanja_from", "L14699_niskabanja_to"),
        ),
    ),
    nis_years=("2030", "2032"),
    expansion_year="2032",
    expansion_targets_mw=(1000.0, 2000.0, 4000.0, 6000.0, 8000.0),
    quick_years=("2026",),
    quick_reinforcements=("sofia_nis_2",),
    n1_note="the base cases made N-1 secure by the network builder (networks/README.md, "
    "N-1 security)",
)
"""The substation-level model ``networks/corridor_substation.yaml`` (issue 19). Its
``2026``, ``2030`` and ``2032`` scenarios are the winter peaks; the Niš plant is in the
``YEAR_nis_SITE`` scenarios only. The Romania–Hungary DC link is not studied: it would
forward a scheduled export, and this model schedules none."""

MODELS: dict[str, StudyCases] = {c.model: c for c in (CORRIDOR_SUBSTATION, CASPIAN_EU)}
"""The study's case data per bundled model, by network file stem."""

NIS_SITES: tuple[Site, ...] = CASPIAN_EU.nis_sites
"""The 96-bus model's Niš sites (the tests' hand-made site tables use them)."""


def for_network(path: str | os.PathLike) -> StudyCases:
    """The case data of the network file ``path``, chosen by its stem.

    Raises
    ------
    GridsimError
        For a network without case data (naming the file and the models that have).
    """
    stem = Path(path).stem
    if stem not in MODELS:
        raise GridsimError(
            f"{path}: the study has no case data for network {stem!r} (years, routes, "
            f"reinforcements and Niš sites are defined for {', '.join(MODELS)}; see "
            "gridsim/study/cases.py)"
        )
    return MODELS[stem]


def labels() -> dict[str, str]:
    """What the report calls each reinforcement, route and site key (the same in every
    model)."""
    out = {PACKAGE_KEY: PACKAGE_LABEL}
    for c in MODELS.values():
        for item in (*c.reinforcements, *c.routes, *c.nis_sites):
            out.setdefault(item.key, item.label)
    return out


PV_SCREEN_VM_PU = 0.95
"""The voltage-stability screen: the noses of a TTC case (intact, and after its limiting
outage) are computed with continuation power flows along the case's transfer direction
when voltage stability binds or the lowest bus voltage at the TTC (intact) is below this
(p.u.). The nose moves away as voltages stay up, so a case above it is taken as far from
collapse."""
PV_NEAR = 0.10
"""A case gets a P–V figure when voltage stability binds or its lowest nose lies less
than this fraction above its TTC."""

N1_OPTIONS = {"cnec_threshold": 0.05, "base_margin_percent": 2.0}
"""Options of every N-1 TTC of the study (:func:`gridsim.n1_ttc` and its secured base
case): thermal limits held on ENTSO-E's critical network elements and contingencies
(largest zone-to-zone PTDF >= 5 %, :func:`gridsim.select_cnecs`), the overloads of other
pairs reported beside (``outside_cnec_violations``); voltages, diverging and islanding
outages everywhere; the base-case redispatch balanced per synchronous area and reported
per zone with its share of the zone's generation, and made to leave 2 % of every thermal
limit free (a flow reliability margin: the least redispatch otherwise stops exactly at
the limits of the branches it relieves, and every transfer that loads one of them has a
TTC of 0; on the substation model's 2026 winter peak, AZ->RS 0 -> 124 MW for 912 -> 1,108
MW of redispatch)."""

PLANT_DF = 0.05
"""A branch counts for a Niš site's N-1 margin when it carries at least this share of the
plant's output in the intact grid: ENTSO-E's 5 % distribution-factor threshold for the
elements an exchange significantly affects (ACER Decision 02/2019, Core CCM art. 5)."""

EXPORT_CURVE_POINTS = 21
"""AC power flows per export curve (evenly spaced from no transfer to past the N-0 TTC)."""

CANDIDATES_SUFFIX = "_candidates.yaml"
"""The candidate projects sit beside the network: ``<network stem>_candidates.yaml``."""
