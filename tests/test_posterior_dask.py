"""The posterior on a real dask.distributed LocalCluster: the same draws, bit for bit, as in one process."""

from __future__ import annotations

import cloudpickle
import pandas as pd
import pytest
import test_posterior
from distributed import LocalCluster
from test_emulated import emulated_calibration
from test_posterior import InProcess, gauss, gaussian_run  # noqa: F401 (gauss is a fixture)

from sim.calibration.emulated import run_emulated
from sim.calibration.history import CalibrationStore
from sim.calibration.posterior import run_abc
from sim.calibration.spec import Budget
from sim.experiments.executors import DaskPool

pytestmark = pytest.mark.slow  # a LocalCluster of two worker processes

# Dask workers are separate processes that do not have the tests folder on their path.
cloudpickle.register_pickle_by_value(test_posterior)


def test_the_posterior_on_dask_is_the_posterior_in_one_process(gauss):  # noqa: F811
    c, folder = gauss
    small = Budget(population=40, generations=3)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask = run_abc(c, DaskPool(cluster.scheduler_address, runner=gaussian_run),
                          CalibrationStore(f"sqlite:///{folder / 'dask.db'}"), c.study, budget=small)
    here = run_abc(c, InProcess(), CalibrationStore(f"sqlite:///{folder / 'here.db'}"), c.study, budget=small)
    pd.testing.assert_frame_equal(on_dask.draws, here.draws)
    assert on_dask.complete


def test_emulator_waves_on_dask_give_the_draws_of_one_process(tmp_path):
    c, folder = emulated_calibration(tmp_path)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask = run_emulated(c, DaskPool(cluster.scheduler_address, runner=gaussian_run),
                               CalibrationStore(f"sqlite:///{folder / 'dask.db'}"), c.study)
    here = run_emulated(c, InProcess(), CalibrationStore(f"sqlite:///{folder / 'here.db'}"), c.study)
    pd.testing.assert_frame_equal(on_dask.draws, here.draws)
    assert on_dask.complete
