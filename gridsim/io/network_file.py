"""gridsim YAML network files (being written)."""


def load_network(path, scenario=None):
    raise NotImplementedError
