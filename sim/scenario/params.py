"""How a scenario parameter is declared: a value with its unit, range and source, in a frozen table."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

LEVELS = ("arena", "arena_pro", "nce", "gce")


Level = Literal["arena", "arena_pro", "nce", "gce"]


def param(default: Any, unit: str, source: str, ge: float | None = None, le: float | None = None):
    """Declare a scenario parameter.

    Args:
        default: Value used when the scenario file does not set it.
        unit: Unit of measurement ("1" for dimensionless, "NOK", "per year", ...).
        source: Where the value comes from, or why it was chosen.
        ge: Smallest allowed value, if bounded.
        le: Largest allowed value, if bounded.

    Returns:
        A pydantic ``Field`` carrying unit and source as schema metadata.
    """
    return Field(default, ge=ge, le=le, json_schema_extra={"unit": unit, "source": source})


class Section(BaseModel):
    """Base for every table in a scenario file: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)
