"""Data layer: domains, benchmark loaders, the embedded default, transforms, imbalance.

Depends on numpy, scipy, scikit-learn and h5py only (never torch), so the CLI and
the loaders stay cheap to import.
"""

from dtc.data.benchmarks import (
    DATA_ENV,
    PREPROCESSINGS,
    benchmark_info,
    data_dir_problem,
    domain_files,
    list_benchmarks,
    load_domain,
    load_pair,
    resolve_data_dir,
)
from dtc.data.digits import check_digits_options, make_digits_pair
from dtc.data.domain import Domain, DomainPair, check_features
from dtc.data.files import load_csv, load_mat, load_npz
from dtc.data.imbalance import check_imbalance, make_imbalanced
from dtc.data.preprocessing import (
    column_std,
    floored_std,
    normalize_rows,
    pca,
    standardize,
    zscore_columns,
)
from dtc.data.shifts import apply_shift, shift_domain

__all__ = [
    "DATA_ENV",
    "PREPROCESSINGS",
    "Domain",
    "DomainPair",
    "apply_shift",
    "benchmark_info",
    "check_digits_options",
    "check_features",
    "check_imbalance",
    "column_std",
    "data_dir_problem",
    "domain_files",
    "floored_std",
    "list_benchmarks",
    "load_csv",
    "load_domain",
    "load_mat",
    "load_npz",
    "load_pair",
    "make_digits_pair",
    "make_imbalanced",
    "normalize_rows",
    "pca",
    "resolve_data_dir",
    "shift_domain",
    "standardize",
    "zscore_columns",
]
