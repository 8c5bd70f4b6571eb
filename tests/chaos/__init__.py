"""The chaos suite: faults and hostile input against real server subprocesses, as figures.

Each scenario module exposes one function taking a size (rounds, inputs,
seconds) and returning a `figures.Row`; `python -m tests.chaos.run` (`make
chaos`) runs the full sizes and prints one table, and test_chaos_short.py
runs a short version of each under pytest (`make test`, `.ci/run`).
"""
