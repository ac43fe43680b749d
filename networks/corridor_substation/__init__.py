"""Rules of networks/build_corridor_substation.py: topology (the map extract), elements
(standard types, reactors, capacitors, areas), caucasus (Azerbaijan, HVDC, boundary
equivalents), dispatch (merit order) and scenarios (country balances -> overlays)."""
