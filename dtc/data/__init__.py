"""Data layer: domains, benchmark loaders, the embedded default, transforms, imbalance."""

from dtc.data.domain import Domain, DomainPair, check_features

__all__ = ["Domain", "DomainPair", "check_features"]
