"""The posterior's history on PostgreSQL: stored, continued after a stop, the same as on SQLite.

Needs a scratch PostgreSQL database in ``NIC_SIM_TEST_POSTGRES_URL`` (``eval "$(scripts/ci-postgres.sh)"``
starts one on loopback, as ``.ci/run`` does); without it these tests are skipped.
"""

from __future__ import annotations

import os
import uuid

import pandas as pd
import pytest
from test_posterior import InProcess, gauss  # noqa: F401 (a fixture)

from sim.calibration.history import CalibrationStore
from sim.calibration.posterior import run_abc
from sim.calibration.sampler import SimulationFailed

URL = os.environ.get("NIC_SIM_TEST_POSTGRES_URL")

pytestmark = pytest.mark.skipif(URL is None, reason="no PostgreSQL: set NIC_SIM_TEST_POSTGRES_URL to a scratch "
                                                    "database (eval \"$(scripts/ci-postgres.sh)\" starts one)")


def test_a_posterior_on_postgres_continues_after_a_stop_to_the_sqlite_posterior(pg, gauss):  # noqa: F811
    c, folder = gauss
    study = f"gauss_{uuid.uuid4().hex[:8]}"
    store = CalibrationStore(pg)
    with pytest.raises(SimulationFailed):
        run_abc(c, InProcess(window=3, fail_after=900), store, study)
    on_postgres = run_abc(c, InProcess(window=3), CalibrationStore(pg), study)
    on_sqlite = run_abc(c, InProcess(window=3), CalibrationStore(f"sqlite:///{folder / 's.db'}"), study)
    pd.testing.assert_frame_equal(on_postgres.draws, on_sqlite.draws)
    assert store.find(study)["kind"] == "posterior"
