"""The synthetic population: Norway's employer enterprises and knowledge institutions.

Firms are built as columns (structure of arrays), all at once, with numpy. The recipe:

1. **Size.** ``population.size_classes`` (Statistics Norway 2017) gives the number of employer
   enterprises per employee class. Each class gets ``round(count * scale)`` firms with
   largest-remainder rounding, so at full scale every class is exact. Within a bounded class
   ``lo-hi`` employees are log-uniform integers in ``[lo, hi]`` (small firms are more common
   inside a class too); the open top class ``lo+`` is Pareto(``top_class_pareto_alpha``) from
   ``lo``, capped at ``max_employees``.
2. **Where and what.** Sector is drawn from the normalised sector shares; the region given
   the sector from ``p(r | s) ~ region.enterprise_share * location_weights.get(r, 1)``. Sector
   marginals are thus exact in expectation and location quotients tilt where each sector is.
   Region and sector are independent of size (no size tilt), which keeps the two data sources
   (size classes, location shares) from fighting each other.
3. **Attributes** (:func:`_attributes`, shared with :func:`startup_firms`): productivity is
   log-normal around the sector's value added per man-year with the mean preserved; R&D
   effort, exporting and absorptive capacity rise with size (and R&D with how science-based
   the sector is); the growth potential is the latent, unobserved variable that later drives
   both joining a cluster and growing (the source of selection bias); age rises with size.

Tilted shares (R&D effort, exporters) are logistic in log size with an intercept solved so that
the share *over the scenario's whole size and sector distribution* equals the scenario figure
(``rd_effort_mean``, ``international_share``). The intercept is computed from the scenario
alone (on a deterministic quantile grid of the same size distribution), so start-ups use the
same mapping as the initial population.

All randomness comes from the ``rng`` argument: the same generator state gives identical arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine import population as kernels
from sim.engine.population import EffortParams, TraitParams
from sim.scenario.schema import Scenario

#: Column names and dtypes of a firm table (as returned by :func:`build_firms`).
COLUMNS: dict[str, type[np.generic]] = {
    "region": np.int16,        # index into list(scn.regions)
    "sector": np.int16,        # index into list(scn.sectors)
    "employees": np.float64,   # man-years, >= 1
    "productivity": np.float64,  # value added per man-year, NOK
    "va_share": np.float64,    # value added / revenue
    "revenue": np.float64,     # NOK = employees * productivity / va_share
    "potential": np.float64,   # latent growth potential, log points per year
    "rd_effort": np.float64,   # [0, 1]
    "absorptive": np.float64,  # [0, 1]
    "intl": np.float64,        # [0, 1] international orientation (0 = no exports)
    "kx": np.float64,          # knowledge position, [0, 1]
    "ky": np.float64,          # knowledge position, [0, 1]
    "birth_year": np.int16,
}

# Points per size class in the deterministic quantile grid used to solve intercepts. The grid
# only approximates the size distribution; 256 points put the error far below sampling noise.
_GRID_POINTS = 256
# Batches of at least this many firms draw their normals through numba (the same numbers, three
# times as fast, but a call costs 8 us more): the initial population does, a year's start-ups not.
_COMPILED_NORMALS_FROM = 2_000


@dataclass(frozen=True)
class SizeClass:
    """One employee size class: ``lo-hi`` (bounded) or ``lo+`` (open, Pareto tail)."""

    label: str
    lo: int
    hi: int | None  # None for the open top class
    count: int

    def employees(self, q: np.ndarray, alpha: float, cap: float) -> np.ndarray:
        """Map uniform quantiles to integer employee numbers in this class (inverse CDF).

        Used both to draw firms (random ``q``) and to build the reference grid (fixed ``q``),
        so the two follow exactly the same distribution.

        Args:
            q: Quantiles in [0, 1).
            alpha: Pareto tail index of the open class.
            cap: Largest number of employees in the open class.

        Returns:
            Employees (float64, whole numbers, >= lo).
        """
        # Open class: Pareto above lo, capped. Bounded: log-uniform on [lo, hi + 1) then floor,
        # so integers lo..hi, smaller ones more common.
        return kernels.class_employees(np.ascontiguousarray(q, dtype=np.float64), self.lo,
                                       -1 if self.hi is None else self.hi, alpha, cap)


def size_classes(scn: Scenario) -> list[SizeClass]:
    """Parse ``population.size_classes`` into :class:`SizeClass` objects.

    Args:
        scn: The scenario.

    Returns:
        The classes in the file's order.

    Raises:
        ValueError: A key is neither ``lo-hi`` nor ``lo+`` or has ``lo < 1`` or ``hi < lo``.
    """
    out = []
    for label, count in scn.population.size_classes.items():
        try:
            if label.endswith("+"):
                lo, hi = int(label[:-1]), None
            else:
                a, b = label.split("-")
                lo, hi = int(a), int(b)
        except ValueError:
            raise ValueError(
                f"population.size_classes: bad key '{label}', expected 'lo-hi' or 'lo+'") from None
        if lo < 1 or (hi is not None and hi < lo) or count < 0:
            raise ValueError(f"population.size_classes: bad class '{label}' = {count}")
        out.append(SizeClass(label, lo, hi, int(count)))
    return out


def class_counts(classes: list[SizeClass], scale: float) -> np.ndarray:
    """Number of firms per class: ``count * scale`` rounded so the total rounds correctly.

    Largest-remainder (Hamilton) rounding: floors first, then the leftover firms go to the
    classes with the largest fractional parts. At ``scale = 1`` every class is exact.

    Args:
        classes: The size classes.
        scale: Share of the real population.

    Returns:
        Integer counts per class.
    """
    exact = np.array([c.count for c in classes], dtype=float) * scale
    counts = np.floor(exact).astype(np.int64)
    leftover = int(round(exact.sum())) - int(counts.sum())
    if leftover > 0:
        # Stable sort so ties go to the earlier (smaller, more numerous) class.
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:leftover]] += 1
    return counts


def _reference_grid(scn: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stand-in for the scenario's firm-size distribution.

    Args:
        scn: The scenario.

    Returns:
        ``(log_employees, weight)`` with weights summing to 1 (class counts at full scale).
    """
    pop = scn.population
    q = (np.arange(_GRID_POINTS) + 0.5) / _GRID_POINTS
    classes = size_classes(scn)
    total = sum(c.count for c in classes)
    sizes = [c.employees(q, pop.top_class_pareto_alpha, pop.max_employees) for c in classes]
    weights = [np.full(_GRID_POINTS, c.count / (total * _GRID_POINTS)) for c in classes]
    # Employees are whole numbers, so most grid points repeat: merge them (same distribution,
    # a few hundred points instead of thousands, which keeps start-up creation cheap).
    size, inverse = np.unique(np.concatenate(sizes), return_inverse=True)
    weight = np.bincount(inverse, weights=np.concatenate(weights), minlength=size.size)
    return np.log(size), weight


def _sector_shares(scn: Scenario) -> np.ndarray:
    """Sector shares of enterprises, normalised to sum to 1 (the file's are rounded)."""
    shares = np.array([s.enterprise_share for s in scn.sectors.values()], dtype=float)
    if shares.sum() <= 0:
        raise ValueError("sectors: enterprise_share must be positive for at least one sector")
    return shares / shares.sum()


@dataclass(frozen=True)
class _Mappings:
    """Per-scenario constants of the attribute mappings (no randomness)."""

    rd_intercept: float        # log-odds of R&D effort at log size 0, knowledge_y 0
    export_intercept: float    # log-odds of exporting at log size 0
    ref_log_size: float        # population mean of log man-years
    sector_table: np.ndarray   # per sector: value added per man-year, value added share, knowledge x, y
    smallest: SizeClass        # the size class start-ups come from


def _mappings(scn: Scenario) -> _Mappings:
    """Solve the intercepts that make tilted shares match the scenario's population figures.

    Start-ups are made several times a year, so the solution is cached by the inputs it depends on.

    Args:
        scn: The scenario.

    Returns:
        The mapping constants.
    """
    # Keyed by the (immutable) tables the solution depends on; holding them keeps ids unique.
    key = (id(scn.population), id(scn.sectors))
    entry = _MAPPINGS.get(key)
    if entry is None or entry[0] is not scn.population or entry[1] is not scn.sectors:
        if len(_MAPPINGS) >= _MAPPINGS_KEPT:
            _MAPPINGS.clear()
        entry = _MAPPINGS[key] = (scn.population, scn.sectors, _solve_mappings(scn))
    return entry[2]


# Solved mappings by scenario tables; a sweep touches a few scenarios at a time.
_MAPPINGS: dict[tuple[int, int], tuple[object, object, _Mappings]] = {}
_MAPPINGS_KEPT = 64


def _solve_mappings(scn: Scenario) -> _Mappings:
    pop = scn.population
    log_size, w_size = _reference_grid(scn)
    sector_w = _sector_shares(scn)
    sector_ky = np.array([s.knowledge_y for s in scn.sectors.values()])
    # R&D depends on size and sector: grid is the outer product.
    rd_tilt = (scn.population.rd_size_elasticity * log_size[:, None]
               + scn.population.rd_science_weight * sector_ky[None, :]).ravel()
    rd_w = (w_size[:, None] * sector_w[None, :]).ravel()
    rd_c = (kernels.solve_intercept(pop.rd_effort_mean, rd_tilt, rd_w)
            if 0.0 < pop.rd_effort_mean < 1.0 else 0.0)
    ex_tilt = scn.population.export_size_elasticity * log_size
    ex_c = (kernels.solve_intercept(pop.international_share, ex_tilt, w_size)
            if 0.0 < pop.international_share < 1.0 else 0.0)
    table = np.array([[s.value_added_per_man_year_nok, s.value_added_share, s.knowledge_x, s.knowledge_y]
                      for s in scn.sectors.values()])
    return _Mappings(rd_c, ex_c, float(w_size @ log_size), table, min(size_classes(scn), key=lambda c: c.lo))


def _attributes(
    scn: Scenario,
    rng: np.random.Generator,
    region: np.ndarray,
    sector: np.ndarray,
    employees: np.ndarray,
    age: np.ndarray,
    birth_reference_year: int,
    productivity_index: float = 1.0,
) -> dict[str, np.ndarray]:
    """Draw every firm attribute given location, sector, size and age.

    Shared by :func:`build_firms` and :func:`startup_firms` so that start-ups follow the
    same rules as the initial population.

    Args:
        scn: The scenario.
        rng: Random generator (the only source of randomness).
        region: Region index per firm.
        sector: Sector index per firm.
        employees: Man-years per firm (>= 1).
        age: Age in whole years per firm.
        birth_reference_year: Year the ages are counted back from.
        productivity_index: Multiplier on the sectors' value added per man-year: the productivity
            trend since their year (:func:`productivity_index`).

    Returns:
        The firm columns of :data:`COLUMNS`.
    """
    pop = scn.population
    n = employees.size
    maps = _mappings(scn)
    rd_tilted, ex_tilted = 0.0 < pop.rd_effort_mean < 1.0, 0.0 < pop.international_share < 1.0
    # Productivity is log-normal around the sector's figure; R&D effort's mean and the chance to
    # export are logistic in log size (R&D also in the sector's science orientation); knowledge
    # positions scatter around the sector's. Exporters are drawn with a size-tilted probability
    # whose population mean is international_share; an exporter's orientation is Beta around that
    # same probability, so larger firms both export more often and more intensely (non-exporters
    # have 0), and R&D effort is Beta around its mean. Absorptive capacity is centred on the
    # population's mean log size and mean R&D effort, so a typical firm sits in the middle of the
    # scale and the index orders firms rather than fixing a level. All normals in one call: a
    # start-up batch is small, and numpy's cost is per call.
    traits = TraitParams(
        productivity_index=productivity_index, productivity_sd=pop.productivity_sd,
        growth_potential_sd=pop.growth_potential_sd, knowledge_sd=pop.knowledge_sd, rd_tilted=float(rd_tilted),
        rd_intercept=maps.rd_intercept, rd_size_elasticity=pop.rd_size_elasticity,
        rd_science_weight=pop.rd_science_weight, exports_tilted=float(ex_tilted),
        international_share=pop.international_share, export_intercept=maps.export_intercept,
        export_size_elasticity=pop.export_size_elasticity)
    efforts = EffortParams(
        beta_concentration=pop.beta_concentration, mean_log_size=maps.ref_log_size,
        absorptive_size_weight=pop.absorptive_size_weight, absorptive_rd_weight=pop.absorptive_rd_weight,
        rd_effort_mean=pop.rd_effort_mean)
    z = kernels.numpy_normals(rng, 4, n) if n >= _COMPILED_NORMALS_FROM else rng.standard_normal((4, n))
    u = rng.random(n)
    productivity, va_share, revenue, potential, kx, ky, rd_effort, intl, absorptive = kernels.firm_traits(
        z, u, np.uint64(rng.bit_generator.random_raw()), np.ascontiguousarray(employees, dtype=np.float64),
        np.ascontiguousarray(sector, dtype=np.int64), maps.sector_table, traits, efforts)

    return {
        "region": region.astype(np.int16),
        "sector": sector.astype(np.int16),
        "employees": employees.astype(np.float64),
        "productivity": productivity,
        "va_share": va_share,
        "revenue": revenue,
        "potential": potential,
        "rd_effort": rd_effort,
        "absorptive": absorptive,
        "intl": intl,
        "kx": kx,
        "ky": ky,
        "birth_year": (birth_reference_year - age).astype(np.int16),
    }


def _draw_ages(scn: Scenario, rng: np.random.Generator, employees: np.ndarray) -> np.ndarray:
    """Whole-year ages: geometric (floored exponential), mean rising with size.

    Args:
        scn: The scenario.
        rng: Random generator.
        employees: Man-years per firm.

    Returns:
        Ages (int64, >= 0); young firms are the most common at every size.
    """
    mean_age = (scn.population.age_mean_years
                * employees ** scn.population.age_size_elasticity)
    return np.floor(rng.exponential(mean_age)).astype(np.int64)


def _region_given_sector(scn: Scenario) -> np.ndarray:
    """Cumulative ``p(region | sector)``, one row per sector (last column exactly 1).

    Args:
        scn: The scenario.

    Returns:
        Array of shape (sectors, regions).
    """
    names = list(scn.regions)
    region_share = np.array([scn.regions[r].enterprise_share for r in names])
    weights = np.array([[s.location_weights.get(r, 1.0) for r in names]
                        for s in scn.sectors.values()])
    joint = region_share[None, :] * weights
    totals = joint.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError("regions/location_weights: a sector has no region with positive weight")
    cdf = np.cumsum(joint / totals, axis=1)
    cdf[:, -1] = 1.0  # so every uniform draw < 1 lands in some region
    return cdf


def _draw_sector(scn: Scenario, rng: np.random.Generator, n: int) -> np.ndarray:
    """Sector indices drawn from the normalised enterprise shares."""
    cdf = np.cumsum(_sector_shares(scn))
    cdf[-1] = 1.0
    # As np.searchsorted(cdf, u, side="right"), which is slow for unsorted draws.
    return kernels.category_by_row(cdf[None, :], np.zeros(n, dtype=np.int64), rng.random(n))


def _draw_region(scn: Scenario, rng: np.random.Generator, sector: np.ndarray) -> np.ndarray:
    """Region indices drawn from ``p(region | sector)``, vectorised over firms."""
    cdf = _region_given_sector(scn)
    return kernels.category_by_row(cdf, np.ascontiguousarray(sector, dtype=np.int64), rng.random(sector.size))


def productivity_index(scn: Scenario, year: int) -> float:
    """Productivity of ``year``'s firms relative to the sectors' tables (``population.value_added_year``).

    The tables describe one year; earlier years' firms were less productive by
    ``growth.productivity_trend`` a year, later ones more. ``population.value_added_level`` scales
    the tables to the business sector's total.

    Args:
        scn: The scenario.
        year: The year.

    Returns:
        ``value_added_level * exp(productivity_trend * (year - value_added_year))``.
    """
    pop = scn.population
    return float(pop.value_added_level * np.exp(scn.growth.productivity_trend * (year - pop.value_added_year)))


def build_firms(scn: Scenario, rng: np.random.Generator, start_year: int) -> dict[str, np.ndarray]:
    """Build the initial population of employer enterprises.

    Args:
        scn: The scenario (``population``, ``regions``, ``sectors`` are used).
        rng: Random generator; the same state gives identical arrays.
        start_year: First simulated year; birth years are counted back from it.

    Returns:
        Equal-length column arrays named and typed as in :data:`COLUMNS`, in random order
        (not sorted by size class).
    """
    pop = scn.population
    classes = size_classes(scn)
    counts = class_counts(classes, pop.scale)
    employees = np.concatenate([
        c.employees(rng.random(k), pop.top_class_pareto_alpha, pop.max_employees)
        for c, k in zip(classes, counts)
    ]) if classes else np.empty(0)
    # Shuffle so that row order carries no information (e.g. taking the first rows is a sample).
    employees = rng.permutation(employees)
    n = employees.size
    sector = _draw_sector(scn, rng, n)
    region = _draw_region(scn, rng, sector)
    age = _draw_ages(scn, rng, employees)
    return _attributes(scn, rng, region, sector, employees, age, start_year, productivity_index(scn, start_year))


def startup_firms(
    scn: Scenario,
    rng: np.random.Generator,
    n: int,
    region: np.ndarray,
    sector: np.ndarray,
    year: int,
    productivity_index: float = 1.0,
) -> dict[str, np.ndarray]:
    """Create ``n`` new small firms in given regions and sectors.

    Employees come from the smallest size class (``1-4`` by default), with the same
    within-class distribution as the initial population.

    Args:
        scn: The scenario.
        rng: Random generator.
        n: Number of start-ups.
        region: Region index per start-up (length ``n``).
        sector: Sector index per start-up (length ``n``).
        year: Founding year (every ``birth_year``).
        productivity_index: Multiplier on the sectors' value added per man-year: the productivity
            trend since their year (:func:`productivity_index`).

    Returns:
        Column arrays as in :data:`COLUMNS`, with ``birth_year == year``.

    Raises:
        ValueError: ``region`` or ``sector`` does not have length ``n``.
    """
    region, sector = np.asarray(region), np.asarray(sector)
    if region.shape != (n,) or sector.shape != (n,):
        raise ValueError(
            f"region and sector must have length n={n}, got {region.shape}, {sector.shape}")
    if n == 0:  # often so in a scaled population; skip the fixed cost of the draws
        return {name: np.zeros(0, dtype=dtype) for name, dtype in COLUMNS.items()}
    pop = scn.population
    smallest = _mappings(scn).smallest
    employees = smallest.employees(rng.random(n), pop.top_class_pareto_alpha, pop.max_employees)
    age = np.zeros(n, dtype=np.int64)
    return _attributes(scn, rng, region, sector, employees, age, year, productivity_index)


def build_institutions(scn: Scenario) -> list[dict]:
    """Describe the knowledge institutions with indices and knowledge positions.

    Args:
        scn: The scenario.

    Returns:
        One dict per institution: ``name``, ``region`` (index into ``list(scn.regions)``),
        ``fields`` (sector indices), ``kx``, ``ky`` (mean knowledge position of its fields).
    """
    region_index = {r: i for i, r in enumerate(scn.regions)}
    sector_index = {s: i for i, s in enumerate(scn.sectors)}
    out = []
    for k in scn.knowledge_institutions:
        fields = [scn.sectors[f] for f in k.fields]
        out.append({
            "name": k.name,
            "region": region_index[k.region],
            "fields": [sector_index[f] for f in k.fields],
            "kx": sum(f.knowledge_x for f in fields) / len(fields),
            "ky": sum(f.knowledge_y for f in fields) / len(fields),
        })
    return out
