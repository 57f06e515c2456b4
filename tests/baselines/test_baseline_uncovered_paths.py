"""Paths of the baselines no other test reached: argument messages (all-zero features, a
one-row domain for CORAL, average_linkage's sizes, more source clusters than source rows,
more clusters than features), TransferSpectralClustering's callable metric and its dense
SVD (n_clusters equal to the features), and ResampledTransfer's k from the source classes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from baselines._validation import check_non_negative
from baselines.coral import coral_transform
from baselines.ensemble import average_linkage
from baselines.resampling import ResampledTransfer
from baselines.self_taught import SelfTaughtClustering
from baselines.transfer_spectral import TransferSpectralClustering
from dtc.data import Domain, DomainPair

Y = np.repeat([0, 1], 10)


def _two_blobs(seed: int) -> np.ndarray:
    """Two non-negative blobs in 2 features, 10 rows each (labels ``Y``)."""
    rng = np.random.default_rng(seed)
    return np.abs(np.array([[1.0, 5.0], [5.0, 1.0]])[Y] + 0.3 * rng.normal(size=(20, 2)))


@pytest.fixture(scope="module")
def pair() -> DomainPair:
    return DomainPair(Domain(_two_blobs(0), Y), Domain(_two_blobs(1), Y), n_clusters=2)


def _message(fn) -> str:
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value)


def test_argument_messages(pair):
    assert _message(lambda: check_non_negative(np.zeros((3, 2)), method="M", role="source")) == (
        "M: the source features are all zero; expected some positive values"
    )
    X = pair.target.X
    assert _message(lambda: coral_transform(X[:1], X)) == (
        "coral_transform: each domain needs at least 2 samples for a covariance"
    )
    sizes = np.ones((2, 1), dtype=np.int64)
    assert _message(lambda: average_linkage(np.zeros((2, 2), dtype=np.int64), sizes, 1)) == (
        "average_linkage: sizes must have shape (m,), got (2, 1)"
    )
    assert _message(lambda: SelfTaughtClustering(n_source_clusters=21).fit(pair)) == (
        "SelfTaughtClustering: n_source_clusters=21 but the source has 20 samples"
    )
    assert _message(lambda: TransferSpectralClustering(n_neighbors=3, n_clusters=3).fit(pair)) == (
        "TransferSpectralClustering: n_clusters=3 exceeds the samples of a domain or the "
        "features (20 samples, 2 features)"
    )


def _cosine_distance(a, b):
    return 1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def test_transfer_spectral_callable_metric_and_dense_svd(pair):
    # n_clusters = 2 = the features: the joint matrix's full SVD, not svds
    by_name = TransferSpectralClustering(n_neighbors=3).fit(pair)
    by_callable = TransferSpectralClustering(n_neighbors=3, metric=_cosine_distance).fit(pair)
    assert adjusted_rand_score(Y, by_name.labels_) == 1.0
    np.testing.assert_array_equal(by_callable.labels_, by_name.labels_)


def test_resampled_transfer_takes_k_from_the_source_classes(pair):
    no_k = DomainPair(pair.source, Domain(pair.target.X))  # neither it nor the pair gives k
    fitted = ResampledTransfer().fit(no_k)
    np.testing.assert_array_equal(fitted.cluster_classes_, [0, 1])
    assert adjusted_rand_score(Y, fitted.labels_) == 1.0
