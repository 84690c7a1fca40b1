"""The collaboration network of one cluster, drawn for the app.

The network holds the cluster's members, the firms it could recruit, their partners and the
members' R&D institutions. Members are coloured by the cluster's level; the other firms of its
sector in its county are light blue and partners elsewhere grey, so that a class sees who
collaborates with whom and how much of it is local. The layout is networkx's spring layout,
started from the positions of the year before so that the picture moves gently as ties form and
lapse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
from matplotlib.figure import Figure

from sim.app.drawing import LEVEL_COLOURS, LEVEL_NAMES, figure
from sim.app.map import county_name
from sim.scenario.params import LEVELS
from sim.world.clusters import INACTIVE

if TYPE_CHECKING:
    from sim.model import ClusterModel

NETWORK_SIZE = (4.6, 5.0)  # inches
LOCAL_COLOUR, PARTNER_COLOUR, INSTITUTION_COLOUR = "#9ecae1", "#bdbdbd", "#e6ab02"
NODE_STYLE = {  # drawn in this order, members on top; sizes in points^2
    "partner": {"node_size": 30.0, "node_color": PARTNER_COLOUR},
    "local": {"node_size": 45.0, "node_color": LOCAL_COLOUR},
    "institution": {"node_size": 90.0, "node_color": INSTITUTION_COLOUR, "node_shape": "s"},
    "member": {"node_size": 170.0, "node_color": "", "edgecolors": "black", "linewidths": 0.8},
}
EDGE_STYLE = {
    "tie": {"edge_color": "#b0b0b0", "width": 0.8},
    "institution": {"edge_color": INSTITUTION_COLOUR, "width": 0.8, "style": "dashed"},
    "member": {"edge_color": "#333333", "width": 1.8},
}
LAYOUT_ITERATIONS = 40
WARM_ITERATIONS = 15  # starting from last year's positions, the layout needs only to settle the changes
LAYOUT_SEED = 7  # fixed, so that the same network is drawn the same way every time


def cluster_graph(model: ClusterModel, k: int) -> nx.Graph:
    """The network around cluster ``k``.

    Its members, the firms of its sector in its county (the firms it could recruit), everyone they
    collaborate with, and members' R&D institutions.

    Args:
        model: The model.
        k: Cluster index.

    Returns:
        A graph whose nodes are firm rows with ``kind`` "member", "local" (same sector and county,
        not a member) or "partner" (anyone else), and ``"inst:<i>"`` nodes of kind
        "institution"; edges carry ``kind`` "member" (between members), "tie" or "institution".
    """
    f, ties, c = model.firms, model.ties, model.clusters
    n = f.n
    alive = f.alive[:n]
    members = np.flatnonzero(alive & f.member[:n] & (f.cluster[:n] == k))
    local = np.flatnonzero(alive & (f.sector[:n] == c.sector[k]) & (f.region[:n] == c.region[k]) & ~f.member[:n])
    graph = nx.Graph()
    graph.add_nodes_from((int(r), {"kind": "member"}) for r in members)
    graph.add_nodes_from((int(r), {"kind": "local"}) for r in local)
    core = np.concatenate([members, local])
    touching = np.isin(ties.a, core) | np.isin(ties.b, core)
    for a, b in zip(ties.a[touching].tolist(), ties.b[touching].tolist(), strict=True):
        for row in (a, b):
            if row not in graph:
                graph.add_node(row, kind="partner")
        both = graph.nodes[a]["kind"] == graph.nodes[b]["kind"] == "member"
        graph.add_edge(a, b, kind="member" if both else "tie")
    for row in members[f.institution[members] >= 0].tolist():
        inst = f"inst:{int(f.institution[row])}"
        graph.add_node(inst, kind="institution")
        graph.add_edge(row, inst, kind="institution")
    return graph


def network_figure(model: ClusterModel, k: int, previous: dict | None = None) -> tuple[Figure, dict]:
    """Draw the network of cluster ``k``.

    Args:
        model: The model.
        k: Cluster index.
        previous: Node positions of the last drawing of this cluster (to start the layout from).

    Returns:
        The figure and the node positions used (pass them back next year).
    """
    fig = figure(NETWORK_SIZE)
    ax = fig.add_axes((0.0, 0.06, 1.0, 0.8))
    ax.axis("off")
    c = model.clusters
    level = int(c.level[k])
    where = county_name(model.region_names[c.region[k]])
    status = LEVEL_NAMES[LEVELS[level]] if level != INACTIVE else "not in the programme"
    sector = model.sector_names[c.sector[k]].replace("_", " ")
    graph = cluster_graph(model, k)
    kinds = nx.get_node_attributes(graph, "kind")
    nodes = {kind: [n for n, v in kinds.items() if v == kind] for kind in NODE_STYLE}
    fig.suptitle(f"{c.names[k]} ({status}, {where})\n{len(nodes['member'])} members, "
                 f"{len(nodes['local'])} other local firms, {graph.number_of_edges()} ties", fontsize="medium")
    if graph.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "No firms here yet", ha="center", va="center", color="#777777", transform=ax.transAxes)
        return fig, {}
    start = {n: p for n, p in (previous or {}).items() if n in graph}
    pos = nx.spring_layout(graph, pos=start or None, seed=LAYOUT_SEED,
                           iterations=WARM_ITERATIONS if start else LAYOUT_ITERATIONS)
    edge_kinds = nx.get_edge_attributes(graph, "kind")
    for kind, style in EDGE_STYLE.items():
        edges = [e for e, v in edge_kinds.items() if v == kind]
        nx.draw_networkx_edges(graph, pos, edgelist=edges, ax=ax, **style)
    member_colour = LEVEL_COLOURS[LEVELS[level]] if level != INACTIVE else PARTNER_COLOUR
    for kind, style in NODE_STYLE.items():
        colour = member_colour if kind == "member" else style["node_color"]
        nx.draw_networkx_nodes(graph, pos, nodelist=nodes[kind], ax=ax, **{**style, "node_color": colour})
    fig.text(0.01, 0.01, f"Big: members. Light blue: other {sector} firms in {where}.\n"
                         "Grey: their partners elsewhere. Yellow squares: members' R&D institutions.",
             fontsize=7, color="#555555")
    return fig, pos


def cluster_choices(model: ClusterModel) -> list[tuple[int, str]]:
    """Clusters to choose from: those in the programme this year first, then the others.

    Args:
        model: The model.

    Returns:
        (index, label) pairs; the label names the level when the cluster is active.
    """
    c = model.clusters
    active = [k for k in range(len(c)) if c.level[k] != INACTIVE]
    rest = [k for k in range(len(c)) if c.level[k] == INACTIVE]
    return ([(k, f"{c.names[k]} ({LEVEL_NAMES[LEVELS[c.level[k]]]})") for k in active]
            + [(k, f"{c.names[k]} (not in the programme)") for k in rest])
