"""Input: the scenario schema, reading files and overrides, validation with one-line messages.

Also the dated policy changes, the parameter reference and the built-in data (``data/``).
"""
