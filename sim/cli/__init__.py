"""The command line, ``python run.py COMMAND ...``: one module per sub-command.

:mod:`sim.cli.main` builds the parser from every other module here, so a new command is a new
file. Each module's ``add_parser(sub)`` adds its parser and sets ``func`` (called with the parsed
arguments, returning the exit status); a module-level ``ORDER`` places it in ``--help``.
"""
