"""A tiny calibration set-up shared by the calibration tests (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import tomli_w
from conftest import SMALL_CLUSTERS

TARGETS = """
[gap_value_added_pp]
value = 6.0
tolerance = 2.0
statistic = "gap_value_added_pp"
calibrate = true
source = "a test figure"

[gap_peaks_early]
value = 0.0
tolerance = 1.0
statistic = "peak_lead.gap_value_added_pp"
compare = "at_least"
calibrate = true
source = "a test figure"

[members_2010]
value = 300
tolerance = 200
statistic = "yearly.members@2010"
source = "a test figure"
"""



def setup(folder: Path, parameters: str, extends: str = "calibrated.toml") -> Path:
    """A tiny scenario that extends calibrated.toml, its targets and a calibration file."""
    scenario = {"scenario": {"extends": extends, "name": "tiny", "end_year": 2014},
                "population": {"scale": 0.04}, "clusters": SMALL_CLUSTERS}
    (folder / "tiny.toml").write_text(tomli_w.dumps(scenario))
    (folder / "calibrated.toml").write_text("# not yet calibrated\n")
    (folder / "targets.toml").write_text(TARGETS)
    (folder / "parameters.toml").write_text(parameters)
    return folder / "parameters.toml"

