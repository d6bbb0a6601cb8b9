"""The public entry points are what the chapters import."""

import importlib


def test_simulate_is_the_function_even_after_importing_its_module():
    importlib.import_module("recursive_lib.simulate")
    from recursive_lib import simulate

    assert callable(simulate) and simulate.__name__ == "simulate"
