"""A tiny calibration set-up shared by the calibration tests (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import optuna
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

PARAMETERS = """
[calibration]
scenario = "tiny.toml"
study = "tiny"
trials = 3
seeds = 2
seed = 5
startup_trials = 2

[calibration.fixed]
measurement.bootstrap = 0
output.firm_panel = false

[check]
seeds = 2

[check.fixed]
measurement.bootstrap = 0

[parameters.growth_potential_sd]
keys = ["population.growth_potential_sd"]
low = 0.02
high = 0.08
source = "test range"

[parameters.market_access]
keys = ["levels.arena.market_access_growth", "levels.nce.market_access_growth"]
factor = true
low = 0.5
high = 2.0
source = "test range"
"""


def setup(folder: Path, parameters: str = PARAMETERS, extends: str = "calibrated.toml") -> Path:
    """A tiny scenario that extends calibrated.toml, its targets and a calibration file."""
    scenario = {"scenario": {"extends": extends, "name": "tiny", "end_year": 2014},
                "population": {"scale": 0.04}, "clusters": SMALL_CLUSTERS}
    (folder / "tiny.toml").write_text(tomli_w.dumps(scenario))
    (folder / "calibrated.toml").write_text("# not yet calibrated\n")
    (folder / "targets.toml").write_text(TARGETS)
    (folder / "parameters.toml").write_text(parameters)
    return folder / "parameters.toml"


def study_trials(db: Path | str, name: str = "tiny") -> list:
    """The trials of a study in a SQLite file (a path) or any database (a URL)."""
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    return optuna.load_study(study_name=name, storage=url).get_trials()
