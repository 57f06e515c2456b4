"""Experiments: one run, grids of runs, the results store and reports.

``load_config`` + ``run_experiment`` run a YAML config's grid into a resumable
results file; ``write_report`` turns it into tables and figures.
"""

from dtc.experiment.config import ExperimentConfig, Task, expand, load_config
from dtc.experiment.report import write_report
from dtc.experiment.runner import SweepSummary, run_experiment
from dtc.experiment.single import RunSpec, run_single
from dtc.experiment.store import append_record, read_records

__all__ = [
    "ExperimentConfig",
    "RunSpec",
    "SweepSummary",
    "Task",
    "append_record",
    "expand",
    "load_config",
    "read_records",
    "run_experiment",
    "run_single",
    "write_report",
]
