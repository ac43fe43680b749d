"""MATPOWER reader (being written)."""


def read_matpower(path):
    raise NotImplementedError
