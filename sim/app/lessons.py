"""Lesson presets: scenario files that extend the classroom scenario and explain one idea.

A lesson file (``scenarios/lessons/*.toml``) names ``extends = "../classroom.toml"``, lists only
what the lesson changes, and explains the lesson in ``[scenario] description``: the first line is
its title, the rest Markdown paragraphs. It is an ordinary scenario, so
``python run.py run scenarios/lessons/<lesson>.toml`` runs it too. Free play is the classroom
scenario itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.scenario.files import load_scenario
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "classroom.toml"
LESSONS_DIR = ROOT / "scenarios" / "lessons"
FREE_PLAY = "classroom"
FREE_PLAY_TITLE = "Free play: the classroom scenario"


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
