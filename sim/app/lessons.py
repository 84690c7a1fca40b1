"""Lesson presets: scenario files that extend the classroom scenario and explain one idea.

A lesson file (``scenarios/lessons/*.toml``) names ``extends = "../classroom.toml"``, lists only
what the lesson changes, and explains the lesson in ``[scenario] description``: the first line is
its title, the rest Markdown paragraphs. It is an ordinary scenario, so
``python run.py run scenarios/lessons/<lesson>.toml`` runs it too. Free play is the classroom
scenario itself.

The selection lesson's chart gets a note beside it when the calibration's posterior is committed
(``calibration/posterior.parquet``): the 90 % interval of the true effect and of the selection share
over the posterior's draws, read from the file (:func:`posterior_note`), not simulated in class.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.weights import weighted_quantile
from sim.scenario.files import load_scenario
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "classroom.toml"
LESSONS_DIR = ROOT / "scenarios" / "lessons"
FREE_PLAY = "classroom"
FREE_PLAY_TITLE = "Free play: the classroom scenario"
SELECTION = "3_selection_or_treatment"  # the lesson whose chart shows the posterior's range beside it
POSTERIOR = ROOT / "calibration" / "posterior.parquet"


@dataclass(frozen=True)
class Lesson:
    """One preset of the app.

    Attributes:
        key: Identifier: the file's stem (``classroom`` for free play).
        title: One line shown in the lesson menu.
        text: The explanation, Markdown.
        path: The scenario file.
    """

    key: str
    title: str
    text: str
    path: Path

    def scenario(self, overrides: Mapping[str, Any] | None = None) -> Scenario:
        """The lesson's validated scenario with a user's overrides on top.

        Args:
            overrides: Dotted key -> value, as ``sim.load_scenario`` takes them.

        Returns:
            The scenario.

        Raises:
            ScenarioError: The file or an override is not allowed (one line naming the key).
        """
        return load_scenario(self.path, dict(overrides or {}))


def load_lessons(base: Path = BASE, folder: Path = LESSONS_DIR) -> list[Lesson]:
    """Free play and every lesson file, in file-name order, each validated once.

    Args:
        base: The classroom scenario.
        folder: Where the lesson files are.

    Returns:
        The lessons, free play first.

    Raises:
        ScenarioError: A file cannot be read or does not validate.
    """
    free = Lesson(FREE_PLAY, FREE_PLAY_TITLE, load_scenario(base).scenario.description, Path(base))
    lessons = [free]
    for path in sorted(Path(folder).glob("*.toml")):
        title, _, text = load_scenario(path).scenario.description.strip().partition("\n")
        lessons.append(Lesson(path.stem, title.strip() or path.stem, text.strip(), path))
    return lessons


def posterior_note(lesson: str, path: Path | None = None) -> str:
    """The note beside the selection lesson's chart: the posterior's 90 % intervals, or "" (other lessons, no file).

    Args:
        lesson: The lesson's key.
        path: The posterior's draws (default :data:`POSTERIOR`).

    Returns:
        One sentence.
    """
    path = Path(path or POSTERIOR)
    if lesson != SELECTION or not path.is_file():
        return ""
    return _posterior_range(path, path.stat().st_mtime_ns)


@functools.cache
def _posterior_range(path: Path, mtime_ns: int) -> str:
    """The note for one version of the file (read once; the modification time keys the cache)."""
    try:
        draws = pd.read_parquet(path, columns=["weight", "true_value_added_pp", "selection_share_value_added"])
    except (OSError, ValueError, KeyError):  # an unreadable or foreign file: no note rather than a broken lesson
        return ""
    weights = draws["weight"].to_numpy(float)
    true = weighted_quantile(draws["true_value_added_pp"], weights, [0.05, 0.95])
    share = 100 * weighted_quantile(draws["selection_share_value_added"], weights, [0.05, 0.95])
    if not np.isfinite([*true, *share]).all():
        return ""
    return (f"The calibrated model over its posterior ({len(draws)} weighted parameter sets that fit the "
            f"published figures, read from {path.name}, not simulated here): a true effect of {true[0]:+.1f} to "
            f"{true[1]:+.1f} pp a year on value added and {share[0]:.0f}-{share[1]:.0f} % of the measured gap "
            "selection (90 % intervals). This class world runs one parameter set, with selection on growth "
            "potential set for the lesson.")
