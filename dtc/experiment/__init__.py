"""Experiments: one run, grids of runs, the results store and reports."""

from dtc.experiment.single import RunSpec, run_single
from dtc.experiment.store import append_record, read_records

__all__ = ["RunSpec", "append_record", "read_records", "run_single"]
