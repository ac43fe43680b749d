"""Projects of networks/data/projects.yaml in service by the scenario years.

The 2018 map lacks the lines built or started since. Rule: every AC-line project of
projects.yaml with status ``existing`` or ``under_construction`` becomes elements of the
model with that ``status`` and ``year`` = its ``earliest_year`` (so a scenario includes it
from that year), the project's length, circuits = its capacity / 1,330 MW (the 400 kV
line type's rating, rounded, at least 1), the standard type of its voltage level and the
project's sources. ``planned`` projects stay candidates: none has a firm commissioning
year (TRANS_BALKAN_S4: "EMS plans to finish in 2027", D81, one circuit first; the others
estimated). A project's substations are the map buses in ``ENDS`` (estimated: the map's
station of that name, or the nearest 400 kV station); a substation the map lacks at the
project's voltage is added with its transformation (``NEW_STATIONS``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .elements import VOLTAGE_LIMITS, line_record, trafo_record

#: project id -> (from bus, to bus) of the model (estimated matching of the substations
#: named in projects.yaml with the map's stations by name and position). MK_AL_BITOLA_
#: ELBASAN is not here: the map has it (L12655, L14988; under construction in 2018).
ENDS = {
    "TRANS_BALKAN_S2": ("RS_2722_400", "RS_KV3_400"),  # Kragujevac 2 - Kraljevo 3 (new)
    "TRANS_BALKAN_S3": ("RS_8110_400", "RS_BB_400"),  # Obrenovac - Bajina Bašta (new)
    "BG_MARITSA_BURGAS_400": ("BG_8096_400", "BG_2579_400"),  # Maritsa East hub - Burgas
    "BG_DOBRUDZHA_BURGAS_400": ("BG_2563_400", "BG_2579_400"),  # Varna/Dobrudzha - Burgas
    "RO_CERNAVODA_STALPU": ("RO_2559_400", "RO_3945_400"),  # Cernavodă - Stâlpu (Buzău)
    "RO_GUTINAS_SMARDAN": ("RO_3937_400", "RO_3946_400"),
    "RO_CONSTANTA_MEDGIDIA": ("RO_2430_400", "RO_2428_400"),
    "RO_GADALIN_SUCEAVA": ("RO_3867_400", "RO_3905_400"),
}
#: Stations a project adds: new bus -> (project, the map bus beside it at the lower voltage,
#: name, transformer units of the standard type). Kraljevo 3 (2022) and Bajina Bašta (2027)
#: are upgraded to 400 kV with 1 and 2 x 400 MVA 400/220 kV units (corridor_data
#: T_RS_KRALJEVO3_400_220 and T_RS_BB_400_220, S30; ratings estimated).
NEW_STATIONS = {
    "RS_KV3_400": ("TRANS_BALKAN_S2", "RS_2723_220", "Kraljevo 3 400 kV (upgrade)", 1),
    "RS_BB_400": ("TRANS_BALKAN_S3", "RS_2662_220", "Bajina Bašta 400 kV (upgrade)", 2),
}
IN_SERVICE = ("existing", "under_construction")
CIRCUIT_MW = 1330.0  #: one 400 kV circuit of the standard type (projects.yaml's ratings)


def _source(p: dict) -> str:
    src = p["source"] if isinstance(p["source"], list) else [p["source"]]
    return ", ".join(src) + ("; partly estimated" if p.get("estimated") else "")


def add_projects(model: dict, path: Path, types: dict, log: list[str]) -> None:
    """Add the buses, transformers and lines of the projects in service (module rule)."""
    projects = {p["id"]: p for p in yaml.safe_load(path.read_text(encoding="utf-8"))["projects"]}
    bus = {b["id"]: b for b in model["bus"]}
    added = []
    for pid, (f, t) in ENDS.items():
        p = projects[pid]
        if p["status"] not in IN_SERVICE or p["kind"] != "ac_line":
            raise RuntimeError(f"{pid}: status {p['status']}, kind {p['kind']}: not added")
        when = {"status": p["status"], "year": p["earliest_year"]}
        for new, (owner, beside, name, units) in NEW_STATIONS.items():
            if owner != pid:
                continue
            lv = bus[beside]
            rec = lv | {
                "id": new,
                "name": name,
                "vn_kv": p["voltage_kv"],
                "min_vm_pu": VOLTAGE_LIMITS[p["voltage_kv"]][0],
                "max_vm_pu": VOLTAGE_LIMITS[p["voltage_kv"]][1],
                "source": _source(p),
                "note": f"project {pid} ({p['name']}); at the map station of {beside}",
            }
            model["bus"].append(rec | when)
            bus[new] = rec
            model["trafo"].append(
                trafo_record(
                    f"T_{new}",
                    new,
                    beside,
                    p["voltage_kv"],
                    lv["vn_kv"],
                    types,
                    _source(p),
                    f"project {pid}: the upgraded station's transformation",
                    units=units,
                )
                | when
            )
        circuits = max(1, round(p["capacity_mw"] / CIRCUIT_MW))
        model["line"].append(
            line_record(
                f"L_{pid}",
                f,
                t,
                p["voltage_kv"],
                p["length_km"],
                circuits,
                types,
                _source(p),
                f"project {pid} ({p['name']}), {circuits} circuit(s), {p['length_km']} km "
                f"(projects.yaml); {bus[f].get('name', f)} - {bus[t].get('name', t)}",
            )
            | when
        )
        added.append(f"{pid} ({p['earliest_year']})")
    log.append(f"added {len(added)} projects in service by their year: {', '.join(added)}")
