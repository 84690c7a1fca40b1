"""Prior distributions of the fitted parameters: their kinds, checks, densities and draws.

Every fitted parameter of ``calibration/parameters.toml`` has a prior with a finite support
``low``-``high`` (the model is checked at both ends of it, so no draw can give an invalid
scenario):

============== ======================================= ===============================================
kind           shape keys                              support
============== ======================================= ===============================================
``uniform``    (none)                                  ``low``-``high``
``loguniform`` (none)                                  ``low``-``high``, ``low`` above 0
``normal``     ``mean``, ``sd``                        truncated to ``low``-``high``
``lognormal``  ``median``, ``sd_log`` (sd of the log)  truncated to ``low``-``high``, ``low`` above 0
``beta``       ``alpha``, ``beta``                     rescaled from 0-1 to ``low``-``high``
============== ======================================= ===============================================

:class:`Prior` is the validated distribution; :meth:`Prior.frozen` gives a scipy-like object
(``pdf``, ``cdf``, ``ppf``, ``rvs``). Draws with ``random_state=None`` come from numpy's global
generator, which the calibration's sampler seeds for every proposal (see
:mod:`sim.calibration.sampler`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

PriorKind = Literal["uniform", "loguniform", "normal", "lognormal", "beta"]

#: Shape keys of each kind (besides ``low`` and ``high``), in the order they are written.
SHAPES: dict[str, tuple[str, ...]] = {
    "uniform": (), "loguniform": (), "normal": ("mean", "sd"), "lognormal": ("median", "sd_log"),
    "beta": ("alpha", "beta"),
}
#: Shape keys that must be above 0.
POSITIVE = ("sd", "sd_log", "alpha", "beta", "median")
#: Kinds whose support must lie above 0 (they live on the log scale).
LOG_KINDS = ("loguniform", "lognormal")
#: A truncated prior must keep at least this share of its mass inside ``low``-``high``.
MIN_MASS = 1e-3


def shape_problem(kind: str, shape: dict[str, float | None], low: float, high: float) -> str | None:
    """The first problem of a prior's keys, as a message that starts with the key it is about.

    Args:
        kind: The prior's kind.
        shape: Every shape key the table has (``None`` where not given).
        low: Lower end of the support.
        high: Upper end of the support.

    Returns:
        ``None`` if the prior is valid, else e.g. ``"sd is required for a normal prior (mean, sd, low, high)"``.
    """
    wanted = SHAPES[kind]
    keys = ", ".join((*wanted, "low", "high"))
    for name, value in shape.items():
        if value is not None and name not in wanted:
            return f"{name} is not a key of a {kind} prior ({keys})"
    for name in wanted:
        if shape.get(name) is None:
            return f"{name} is required for a {kind} prior ({keys})"
        if name in POSITIVE and not shape[name] > 0:
            return f"{name} must be above 0, got {shape[name]:g}"
    if not low < high:
        return f"high ({high:g}) must be above low ({low:g})"
    if kind in LOG_KINDS and not low > 0:
        return f"low must be above 0 for a {kind} prior, got {low:g}"
    mass = Prior(kind, low, high, {k: float(shape[k]) for k in wanted}).mass_inside()  # type: ignore[arg-type]
    if not mass >= MIN_MASS:
        return (f"low ({low:g}) and high ({high:g}) keep only {mass:.2g} of the {kind} prior's mass; "
                f"centre it inside them or widen them")
    return None


@dataclass(frozen=True)
class Prior:
    """A validated prior: its kind, its support and its shape.

    Attributes:
        kind: ``uniform``, ``loguniform``, ``normal``, ``lognormal`` or ``beta``.
        low: Lower end of the support.
        high: Upper end of the support.
        shape: The kind's shape keys (:data:`SHAPES`) and their values.
    """

    kind: PriorKind
    low: float
    high: float
    shape: dict[str, float] = field(default_factory=dict)

    def frozen(self) -> Any:
        """The distribution as an object with ``pdf``, ``cdf``, ``ppf`` and ``rvs`` (scipy's interface)."""
        lo, hi, s = self.low, self.high, self.shape
        if self.kind == "uniform":
            return stats.uniform(lo, hi - lo)
        if self.kind == "loguniform":
            return stats.loguniform(lo, hi)
        if self.kind == "normal":
            return stats.truncnorm((lo - s["mean"]) / s["sd"], (hi - s["mean"]) / s["sd"], loc=s["mean"],
                                   scale=s["sd"])
        if self.kind == "lognormal":
            return LogTruncNorm(math.log(s["median"]), s["sd_log"], lo, hi)
        return stats.beta(s["alpha"], s["beta"], loc=lo, scale=hi - lo)

    def mass_inside(self) -> float:
        """Share of the untruncated distribution's mass inside the support (1 for uniform, loguniform, beta)."""
        s = self.shape
        if self.kind == "normal":
            return float(stats.norm.cdf(self.high, s["mean"], s["sd"]) - stats.norm.cdf(self.low, s["mean"], s["sd"]))
        if self.kind == "lognormal":
            mu = math.log(s["median"])
            return float(stats.norm.cdf(math.log(self.high), mu, s["sd_log"])
                         - stats.norm.cdf(math.log(self.low), mu, s["sd_log"]))
        return 1.0

    def interval(self, share: float = 0.9) -> tuple[float, float]:
        """The central interval holding ``share`` of the prior's mass.

        Args:
            share: Probability inside the interval.

        Returns:
            Its lower and upper end.
        """
        tail = (1.0 - share) / 2.0
        dist = self.frozen()
        return float(dist.ppf(tail)), float(dist.ppf(1.0 - tail))

    def describe(self) -> str:
        """The prior in words for reports, e.g. ``lognormal(median 1, sd_log 1) on 0.02-16``."""
        shape = ", ".join(f"{k} {v:g}" for k, v in self.shape.items())
        return f"{self.kind}{f'({shape})' if shape else ''} on {self.low:g}-{self.high:g}"


class LogTruncNorm:
    """A lognormal truncated to ``low``-``high``: the exponential of a truncated normal on the log scale.

    Args:
        mu: Mean of the log (the log of the median).
        sigma: Standard deviation of the log.
        low: Lower end of the support (above 0).
        high: Upper end of the support.
    """

    def __init__(self, mu: float, sigma: float, low: float, high: float):
        self.log = stats.truncnorm((math.log(low) - mu) / sigma, (math.log(high) - mu) / sigma, loc=mu, scale=sigma)
        self.low, self.high = low, high

    def pdf(self, x: Any) -> Any:
        """Density at ``x`` (0 outside the support)."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(x > 0, self.log.pdf(np.log(np.where(x > 0, x, 1.0))) / np.where(x > 0, x, 1.0), 0.0)
        return float(out) if out.ndim == 0 else out

    def cdf(self, x: Any) -> Any:
        """Cumulative distribution at ``x``."""
        x = np.asarray(x, dtype=float)
        out = np.where(x > 0, self.log.cdf(np.log(np.where(x > 0, x, 1.0))), 0.0)
        return float(out) if out.ndim == 0 else out

    def ppf(self, q: Any) -> Any:
        """Quantile function."""
        return np.exp(self.log.ppf(q))

    def rvs(self, size: Any = None, random_state: Any = None) -> Any:
        """Draws (from numpy's global generator when ``random_state`` is ``None``)."""
        return np.exp(self.log.rvs(size=size, random_state=random_state))
