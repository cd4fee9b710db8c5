"""anyad's benchmark harness: ``python -m benchmarks --help``.

Workloads (``benchmarks/workloads``) define the data and the hand-written
numpy forward and backward (the reference, and the floor every time is a ratio
to); implementations (``benchmarks/peers``) run them with anyad (eager and
compiled replay, on every backend present) and with the peers that are
installed. The standalone scripts beside this package (``per_op_cost.py`` and
others) are run as files, not imported.
"""
