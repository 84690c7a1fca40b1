"""Sub-commands of ``run.py``: one module each, with ``register(sub)`` adding its parser.

``sim.cli`` finds every module here, so a new command is a new file. Each ``register`` sets
``func`` (called with the parsed arguments, returning the exit status) and may set ``order``
(position in ``--help``).
"""
