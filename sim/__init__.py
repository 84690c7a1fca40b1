"""nic-sim: an agent-based model of the Norwegian Innovation Clusters programme.

Public API::

    import sim
    scenario = sim.load_scenario("scenarios/classroom.toml", overrides={"population.scale": 0.05})
    result = sim.run(scenario, seed=0)      # .yearly, .firms, .clusters, .summary
    model = sim.ClusterModel(scenario, rng=0)  # step-by-step Mesa model
"""

import sim.engine  # noqa: F401 - the compiled modules first, in their source-keyed cache
from sim.agents import ClusterOrganisation, Firm, KnowledgeInstitution
from sim.model import ClusterModel
from sim.output.result import RunResult
from sim.runner import run
from sim.scenario.errors import ScenarioError
from sim.scenario.files import load_scenario
from sim.scenario.schema import Scenario

__all__ = [
    "ClusterModel", "ClusterOrganisation", "Firm", "KnowledgeInstitution", "RunResult",
    "Scenario", "ScenarioError", "load_scenario", "run",
]
