"""Input: the scenario schema, reading files and overrides, dated changes, the parameter reference and the built-in data."""
