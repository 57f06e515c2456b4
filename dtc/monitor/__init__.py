"""Monitors: label-free scores of a target clustering, callbacks of the DTC pipeline,
negative-transfer detection and label-free model selection."""

from dtc.monitor import scores

__all__ = ["scores"]
