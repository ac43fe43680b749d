"""What the study computes: years, sinks, routes, reinforcements and Niš sites.

Data only: :mod:`gridsim.study` turns these into tasks. Element ids are those of
``networks/caspian_eu.yaml``.
"""

from __future__ import annotations

import dataclasses

SOURCE = "AZ"
"""The exporting zone (its non-slack generators raise their output)."""

YEARS: tuple[str, ...] = ("2026", "2030", "2032")
"""Scenarios of the headline figures (the Niš plant at its base site, Kruševac)."""

SINKS: dict[str, str] = {
    "RS": "Serbia",
    "EU": "EU (group EU: RO, BG, HU, GR, HR and the EU equivalent)",
}
"""Sink areas (zone codes or groups of the network) and how the report names them."""


@dataclasses.dataclass(frozen=True)
class Route:
    """An HVDC path out of the Caucasus (UPS) synchronous area.

    The route's TTC forces the whole transfer through ``links`` (those of them in
    service and joining the source's AC island to the sink's; shares equal).
    """

    key: str
    label: str
    links: tuple[str, ...]


ROUTES: tuple[Route, ...] = (
    Route("akhaltsikhe", "Akhaltsikhe B2B → Türkiye", ("DC_AKH_B2B", "DC_AKH_B2B_EXT")),
    Route("nakhchivan", "Nakhchivan converter → Türkiye", ("DC_NAX_CONV", "DC_NAX_ISLAND")),
    Route(
        "blacksea",
        "Black Sea cables → Romania",
        ("DC_BLACKSEA_1", "DC_BLACKSEA_2", "DC_BLACKSEA_3"),
    ),
)


@dataclasses.dataclass(frozen=True)
class Reinforcement:
    """A named set of network edits, studied in the listed years.

    Attributes
    ----------
    key, label : str
        Short id (file names, tables) and what the report calls it.
    edits : tuple of (element, id, field, value)
        Applied with :meth:`gridsim.Network.set` on the scenario's network.
    years : tuple of str
        Scenarios where it is studied (where it is not already in the scenario).
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


# The Black Sea cable's AC side (Anaklia 500 kV and its line to Jvari) comes with the
# first cable; in 2032 it is in the scenario already.
_ANAKLIA = (
    ("bus", "GE_ANAKLIA_500", "in_service", True),
    ("line", "L_GE_10", "in_service", True),
)


def _link(link: str) -> tuple[tuple[str, str, str, object], ...]:
    return (("hvdc", link, "in_service", True), ("hvdc", link, "p_mw", 0.0))


REINFORCEMENTS: tuple[Reinforcement, ...] = (
    Reinforcement(
        "blacksea_1",
        "Black Sea cable 1 (1,300 MW)",
        _ANAKLIA + _link("DC_BLACKSEA_1"),
        ("2026", "2030"),
        note="planned 2032 (in the 2032 scenario); earlier years: brought forward, with "
        "its Anaklia 500 kV connection",
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
        "akhaltsikhe_ext",
        "Akhaltsikhe converter extension (+350 MW)",
        _link("DC_AKH_B2B_EXT"),
        ("2026", "2030", "2032"),
        note="proposed 2030",
    ),
    Reinforcement(
        "sofia_nis_2",
        "Sofia West–Niš 2 second 400 kV circuit",
        (("line", "L_BGRS_02", "in_service", True),),
        ("2026", "2030", "2032"),
        note="planned 2034",
    ),
    Reinforcement(
        "tr_bg_3",
        "Third Türkiye–Bulgaria 400 kV line (Hamitabat–Maritsa East)",
        (("line", "L_TRBG_03", "in_service", True),),
        ("2026", "2030", "2032"),
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
)

PACKAGE_KEY = "package"
"""Key of the cumulative package: every reinforcement studied in that year at once."""

PACKAGE_LABEL = "All of the above together"


@dataclasses.dataclass(frozen=True)
class Site:
    """A candidate site of the Niš CCGT: scenario name suffix and connection."""

    key: str
    label: str
    suffix: str
    bus: str
    line: str


NIS_SITES: tuple[Site, ...] = (
    Site("krusevac", "Kruševac (village; base)", "", "RS_NISCCGT_KRUSEVAC", "L_NIS_K"),
    Site("trupale", "Trupale", "-trupale", "RS_NISCCGT_TRUPALE", "L_NIS_T"),
    Site("niskabanja", "Niška Banja", "-niskabanja", "RS_NISCCGT_NISKABANJA", "L_NIS_B"),
)
NIS_YEARS: tuple[str, ...] = ("2030", "2032")
"""Years of the site comparison (the plant is in service from 2029)."""

PV_SCREEN_VM_PU = 0.95
"""The voltage-stability screen: the noses of a TTC case (intact, and after its limiting
outage) are computed with continuation power flows along the case's transfer direction
when voltage stability binds or the lowest bus voltage at the TTC (intact) is below this
(p.u.). The nose moves away as voltages stay up, so a case above it is taken as far from
collapse."""
PV_NEAR = 0.10
"""A case gets a P–V figure when voltage stability binds or its lowest nose lies less
than this fraction above its TTC."""

EXPORT_CURVE_POINTS = 21
"""AC power flows per export curve (evenly spaced from no transfer to past the N-0 TTC)."""

EXPANSION_YEAR = "2032"
EXPANSION_TARGETS_MW: tuple[float, ...] = (1000.0, 2000.0, 4000.0, 6000.0, 8000.0)
"""Export targets of the expansion path (N-1 TTC, MW on top of the year's schedule)."""

CANDIDATES_SUFFIX = "_candidates.yaml"
"""The candidate projects sit beside the network: ``<network stem>_candidates.yaml``."""

QUICK_YEARS: tuple[str, ...] = ("2026",)
"""``--quick`` (for tests): 2026 only, one reinforcement and no package, the Niš sites
in 2030 without their TTCs."""
QUICK_REINFORCEMENTS: tuple[str, ...] = ("sofia_nis_2",)
