"""The register's kernels: yearly sums over open firms and members' growth.

Rules: :mod:`sim.observe.register`.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.engine.jit import EXACT, JIT, sig, warm_up


@numba.njit(sig("UniTuple(float64, 7)({I64}, {F64}, {F64}, {F64}, {BOOL}, {BOOL}, {I32}, {I32}, {I64})"), **JIT)
def tally(rows, employees, revenue, va_share, member, innovated, institution, cluster, members_per_cluster):
    """The register's sums over open firms.

    Args:
        rows: Open firms.
        employees, revenue, va_share, member, innovated, institution, cluster: Firm columns.
        members_per_cluster: Filled with each cluster's number of members.

    Returns:
        ``(members, employment, revenue, value added, innovators, member employment,
        firms with an institution tie)``.
    """
    members_per_cluster[:] = 0
    members = emp = rev = va = innovators = member_emp = with_institution = 0.0
    for i in range(rows.shape[0]):
        r = rows[i]
        emp += employees[r]
        rev += revenue[r]
        va += revenue[r] * va_share[r]
        if member[r]:
            members += 1.0
            member_emp += employees[r]
            members_per_cluster[cluster[r]] += 1
        if innovated[r]:
            innovators += 1.0
        if institution[r] >= 0:
            with_institution += 1.0
    return members, emp, rev, va, innovators, member_emp, with_institution


@numba.njit(sig("void({I64}, {BOOL}, {I32}, {I16}, {F64}, {F64}, {F64}, {BOOL}, {I32}, float64[:, ::1], "
                "float64[:, ::1])"), **EXACT)
def cluster_and_region_sums(rows, member, cluster, region, employees, revenue, va_share, innovated, institution,
                            per_cluster, per_region):
    """Members' sums by cluster and firms' sums by county over open firms, in one pass.

    Compiled without fast-math (:data:`~sim.engine.jit.EXACT`): the sums are those ``np.bincount``
    gave, the same order and rounding.

    Args:
        rows: Open firms, in order.
        member, cluster, region, employees, revenue, va_share, innovated, institution: Firm columns.
        per_cluster: ``[5, clusters]``, filled with the members' man-years, value added, revenue,
            innovators and firms with an institution tie.
        per_region: ``[4, counties]``, filled with the firms, members, man-years and value added.
    """
    per_cluster[:] = 0.0
    per_region[:] = 0.0
    for i in range(rows.shape[0]):
        r = rows[i]
        g = region[r]
        va = revenue[r] * va_share[r]
        per_region[0, g] += 1.0
        per_region[2, g] += employees[r]
        per_region[3, g] += va
        if member[r]:
            per_region[1, g] += 1.0
            k = cluster[r]
            per_cluster[0, k] += employees[r]
            per_cluster[1, k] += va
            per_cluster[2, k] += revenue[r]
            per_cluster[3, k] += 1.0 if innovated[r] else 0.0
            per_cluster[4, k] += 1.0 if institution[r] >= 0 else 0.0


@numba.njit(sig("void({I32}, {I32}, {BOOL}, {I32}, {I64}, {I64})"), **JIT)
def ties_by_cluster(a, b, member, cluster, held, internal):
    """Ties by cluster: each counts for each cluster with a member at one end, once if both ends are its.

    Args:
        a, b: The ties' ends (firm rows).
        member, cluster: Firm columns.
        held: Filled with each cluster's ties (a member at one end at least).
        internal: Filled with each cluster's ties between two of its members.
    """
    held[:] = 0
    internal[:] = 0
    for t in range(a.shape[0]):
        ka = cluster[a[t]] if member[a[t]] else -1
        kb = cluster[b[t]] if member[b[t]] else -1
        if ka >= 0:
            held[ka] += 1
            if ka == kb:
                internal[ka] += 1
        if kb >= 0 and kb != ka:
            held[kb] += 1


@numba.njit(sig("Tuple((float64[::1], float64[::1], float64[::1]))"
                "({I64}, {F64}, {F64}, {I64}, {F64}, {F64}, {F64}, {BOOL})"), **JIT)
def member_growth(before_rows, before_employees, before_va, rows, employees, revenue, va_share, member):
    """Mean yearly growth of members and non-members open in both years.

    Args:
        before_rows: Last year's open firms (sorted), with their employees and value added.
        before_employees, before_va: Their values then.
        rows: This year's open firms (sorted).
        employees, revenue, va_share, member: Firm columns (this year's values and membership).

    Returns:
        ``(growth, employees now, value added now)``: ``[members' employment, members' value
        added, non-members' employment, non-members' value added]`` growth as fractions (NaN
        where no firm counts), and the values of ``rows`` to compare next year's with.
    """
    now_employees = np.empty(rows.shape[0])
    now_va = np.empty(rows.shape[0])
    for i in range(rows.shape[0]):
        now_employees[i] = employees[rows[i]]
        now_va[i] = revenue[rows[i]] * va_share[rows[i]]
    size = max(rows[-1] + 1 if rows.shape[0] else 0, before_rows[-1] + 1 if before_rows.shape[0] else 0)
    position = np.full(size, -1, dtype=np.int64)  # each row's place in before_rows (-1: not open then)
    for j in range(before_rows.shape[0]):
        position[before_rows[j]] = j
    sums = np.zeros(4)
    counts = np.zeros(4)
    for i in range(rows.shape[0]):
        r = rows[i]
        j = position[r]
        if j < 0:
            continue
        side = 0 if member[r] else 2
        if before_employees[j] > 0.0:
            sums[side] += now_employees[i] / before_employees[j] - 1.0
            counts[side] += 1.0
        if before_va[j] > 0.0:
            sums[side + 1] += now_va[i] / before_va[j] - 1.0
            counts[side + 1] += 1.0
    out = np.full(4, np.nan)
    for k in range(4):
        if counts[k] > 0.0:
            out[k] = sums[k] / counts[k]
    return out, now_employees, now_va


@numba.njit(sig("Tuple((int64[::1], int64[::1], int32[::1], boolean))({I64}, {I64}, int64)"), **JIT)
def panel_order(firm, year, n_firms):
    """Each firm's rows of a firm-year panel, for lookups by (firm, year) without a search.

    Args:
        firm, year: The panel's columns.
        n_firms: One more than the largest firm id.

    Returns:
        ``(first, start, order, contiguous)``: each firm's first year, where its rows start in
        ``order``, the panel rows by firm and then year, and whether every firm's years run without a
        gap (only then is row ``order[start[f] + y - first[f]]`` the firm's row in year ``y``).
    """
    first = np.full(n_firms, np.iinfo(np.int64).max, dtype=np.int64)
    start = np.zeros(n_firms + 1, dtype=np.int64)
    for r in range(firm.shape[0]):
        f = firm[r]
        first[f] = min(first[f], year[r])
        start[f + 1] += 1
    for f in range(n_firms):
        start[f + 1] += start[f]
    order = np.full(firm.shape[0], -1, dtype=np.int32)  # a panel has fewer than 2**31 rows (scenario limits)
    contiguous = True
    for r in range(firm.shape[0]):
        f = firm[r]
        k = start[f] + year[r] - first[f]
        if k >= start[f + 1] or order[k] >= 0:
            contiguous = False  # a gap or a repeated year: the caller searches instead
            break
        order[k] = r
    return first, start, order, contiguous


@numba.njit(sig("boolean({I64}, {I64})"), **JIT)
def sorted_by_year_and_firm(year, firm):
    """Whether the rows run by year and, within a year, by firm, with no (firm, year) twice."""
    for r in range(1, year.shape[0]):
        if year[r] < year[r - 1] or (year[r] == year[r - 1] and firm[r] <= firm[r - 1]):
            return False
    return True


@numba.njit(sig("int64[::1]({I64}, {I64}, {I32}, {BOOL}, {I64}, {I64})"), **JIT)
def panel_rows(first, start, order, alive, firms, years):
    """Rows of (firm, year) pairs in a panel indexed by :func:`panel_order`, -1 where not open."""
    out = np.full(firms.shape[0], -1, dtype=np.int64)
    n_firms = first.shape[0]
    for i in range(firms.shape[0]):
        f = firms[i]
        if 0 <= f < n_firms:
            k = years[i] - first[f]
            if 0 <= k < start[f + 1] - start[f]:
                r = order[start[f] + k]
                out[i] = r if alive[r] else -1
    return out


warm_up(tally, cluster_and_region_sums, ties_by_cluster, member_growth, panel_order, sorted_by_year_and_firm,
        panel_rows)
