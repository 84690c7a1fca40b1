"""Upper limits that keep a scenario within what a run, its files and the results database can hold.

Every limit here is checked when a scenario is validated, before any work, and says why it is
where it is. Names that reach the database or a path (:data:`Name`) hold no control characters
and fit the database's ``String(200)`` columns; seeds (:func:`check_seed`) fit its ``BigInteger``.

Memory was measured on the baseline (``scenarios/baseline_2021.toml``, twin world and firm panel
on): full scale (307,000 firms at the start, 36 years, 10.9 million firm-year rows) peaks at
2.66 GB, 0.2 scale at 0.83 GB and 0.05 scale at 0.48 GB, so a run needs about 0.4 GB plus about
210 bytes per firm-year (240 bytes per firm at the start and simulated year, all included).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from sim.scenario.errors import ScenarioError, short_toml

# Seeds are stored in a signed 64-bit column (runs.seed BigInteger) and mixed as unsigned 64-bit words.
MAX_SEED = 2**63 - 1

# runs.scenario is String(200) and the name is one folder of results/<scenario>/<run id>/ (file names
# are at most 255 bytes); 100 leaves room for suffixes such as ``_vs_<other scenario>`` of comparisons.
MAX_SCENARIO_NAME = 100

# Cluster, county, sector and institution names go to String(200) columns (clusters.csv, the database).
MAX_NAME = 200

# About 240 bytes per firm and simulated year (measured, module docstring): 60 million firm-years
# peak near 14.5 GB, which leaves room on a 24 GiB machine for the system and a second process.
MAX_FIRM_YEARS = 60_000_000

# Firms at the start after population.scale: 5 million (16 x Norway's 307,000 employer enterprises,
# about the US's 6 million) take about 1.2 GB a simulated year, so up to 12 years within MAX_FIRM_YEARS.
MAX_FIRMS = 5_000_000

# Firm rows ever opened (closed firms keep their row, about 150 bytes of columns each): a run whose
# entry keeps outpacing its exits is stopped here, at about 3 GB of firm table, rather than by the
# operating system. Checked every simulated year (sim.model.ClusterModel), as validation cannot foresee it.
MAX_FIRM_ROWS = 4 * MAX_FIRMS

# One size class in full-scale units: 100 million is over 15 times the US's employer enterprises;
# beyond it the counts only serve to overflow the arithmetic.
MAX_CLASS_COUNT = 100_000_000

# Entries of the named tables and lists. Regions: Norway's 356 municipalities fit; sectors: NACE's
# 272 groups fit. Lists: far above the programme's about 100 cluster organisations since 2002.
MAX_REGIONS = 500
MAX_SECTORS = 500
MAX_SIZE_CLASSES = 100
MAX_CLASS_SIZE = 1_000_000  # man-years in a size class key ('lo-hi', 'lo+'); max_employees is at most 200,000
MAX_CLUSTERS = 2000
MAX_LIST = 1000
MAX_CHANGES = 200  # each policy change is validated as a whole scenario
MAX_DESCRIPTION = 20_000  # characters of free text; the lessons' are about 1,400

_BAD_CATEGORIES = {"Cc": "a control character", "Cs": "a lone surrogate", "Zl": "a line break",
                   "Zp": "a paragraph break"}


def _clean(text: str) -> str:
    for i, char in enumerate(text):
        what = _BAD_CATEGORIES.get(unicodedata.category(char))
        if what is not None:
            raise ValueError(f"must not hold {what} ({char!r} at position {i})")
    return text


# A name that reaches the database or a path: 1-200 characters, none of them a control character.
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME), AfterValidator(_clean)]


def check_seed(value: Any, source: str = "--seed") -> int:
    """Check a seed: an integer from 0 to 2^63 - 1 (what the database and the random streams take).

    Args:
        value: The seed as given (an int, or text from a form or the command line).
        source: Name used in the message.

    Returns:
        The seed as an int.

    Raises:
        ScenarioError: The seed is not an integer in range.
    """
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        seed = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ScenarioError(source, "", f"must be an integer from 0 to {MAX_SEED}, got {short_toml(value)}") from None
    if not 0 <= seed <= MAX_SEED:
        raise ScenarioError(source, "", f"must be an integer from 0 to {MAX_SEED}, got {short_toml(seed)}")
    return seed
