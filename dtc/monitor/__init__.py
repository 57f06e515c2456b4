"""Monitors: label-free scores of a target clustering, callbacks of the DTC pipeline,
negative-transfer detection and label-free model selection."""

from dtc.monitor import scores
from dtc.monitor.base import Callback
from dtc.monitor.negative_transfer import NegativeTransferMonitor
from dtc.monitor.reference import NoTransferReference
from dtc.monitor.selection import (
    ModelSelection,
    combine_sources,
    rank_sources,
    select_model,
    select_source,
)

__all__ = ["Callback", "scores"]
__all__ += ["ModelSelection", "NegativeTransferMonitor", "NoTransferReference"]
__all__ += ["combine_sources", "rank_sources", "select_model", "select_source"]
