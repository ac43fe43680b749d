"""Readers and writers: MATPOWER .m files, pandapower nets, gridsim YAML network files."""

from gridsim.io.matpower import read_matpower
from gridsim.io.network_file import load_network
from gridsim.io.pandapower import from_pandapower, to_pandapower

__all__ = ["from_pandapower", "load_network", "read_matpower", "to_pandapower"]
