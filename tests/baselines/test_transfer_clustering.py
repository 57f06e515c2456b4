"""Transfer clustering baselines: self-taught clustering (STC), transfer spectral
clustering (TSC) and cross-domain co-clustering.

The shared synthetic shift is a topic model of word counts: ``k`` topics, each with
its own block of words plus common background words. The source holds many long
documents; the target holds few *short* documents (5 words out of 250), with
different word weights inside each topic block (a domain shift that keeps the feature
structure). Target-only K-means sees almost no overlapping words between documents;
a method that learns the word clusters from the source can group the target.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import SpectralCoclustering
from sklearn.metrics import adjusted_rand_score, mutual_info_score
from sklearn.neighbors import kneighbors_graph

from baselines.coclustering import CrossDomainCoclustering, spectral_cocluster
from baselines.self_taught import SelfTaughtClustering, cocluster_loss, mutual_information
from baselines.transfer_spectral import (
    TransferSpectralClustering,
    _knn_affinity,
    orthonormal_projection,
)
from dtc import methods
from dtc.data import Domain, DomainPair, make_digits_pair
from dtc.metrics import cluster_acc

K = 3


def topic_pair(seed=0, *, words=60, background=10, mix=0.3, n_s=300, n_t=90, len_s=200, len_t=5):
    rng = np.random.default_rng(seed)
    m = K * words + background

    def topic_distributions():
        D = np.zeros((K, m))
        for c in range(K):
            D[c, c * words : (c + 1) * words] = (1 - mix) * rng.dirichlet(np.full(words, 2.0))
            D[c, K * words :] = mix / background
        return D

    def documents(D, n, length):
        y = np.arange(n) % K
        return np.stack([rng.multinomial(length, D[c]) for c in y]).astype(float), y

    Xs, ys = documents(topic_distributions(), n_s, len_s)
    Xt, yt = documents(topic_distributions(), n_t, len_t)
    return DomainPair(Domain(Xs, ys, name="source"), Domain(Xt, yt, name="target"), n_clusters=K)


@pytest.fixture(scope="module")
def pair():
    return topic_pair(0)


@pytest.fixture(scope="module")
def kmeans_acc(pair):
    """Target-only K-means, the reference every transfer method must beat."""
    labels = methods.get("kmeans", n_init=10, seed=0).fit(pair).labels_
    acc = cluster_acc(pair.target.y, labels)
    assert acc < 0.6  # the target alone is hard: the shift test means something
    return acc


# -- transfer beats the target alone ------------------------------------------------


def test_stc_beats_target_kmeans(pair, kmeans_acc):
    stc = SelfTaughtClustering().fit(pair)
    acc = cluster_acc(pair.target.y, stc.labels_)
    alone = SelfTaughtClustering(trade_off=0.0).fit(pair)  # the same co-clustering, no auxiliary
    assert acc >= kmeans_acc + 0.3, (acc, kmeans_acc)
    assert acc >= cluster_acc(pair.target.y, alone.labels_) + 0.2
    assert stc.embedding_.shape == (pair.target.n_samples, 4 * K)
    np.testing.assert_allclose(stc.embedding_.sum(axis=1), 1.0, rtol=1e-9)


def test_tsc_beats_target_kmeans(pair, kmeans_acc):
    tsc = TransferSpectralClustering().fit(pair)
    acc = cluster_acc(pair.target.y, tsc.labels_)
    alone = TransferSpectralClustering(trade_off=0.0).fit(pair)  # spectral on the target graph
    assert acc >= kmeans_acc + 0.3, (acc, kmeans_acc)
    assert acc >= cluster_acc(pair.target.y, alone.labels_) + 0.1
    objective = [h["objective"] for h in tsc.history_]
    assert objective[-1] > objective[0]
    assert tsc.n_iter_ < tsc.max_iter  # stopped on the tolerance


def test_coclustering_beats_target_kmeans(pair, kmeans_acc):
    cc = CrossDomainCoclustering().fit(pair)
    acc = cluster_acc(pair.target.y, cc.labels_)
    assert acc >= kmeans_acc + 0.3, (acc, kmeans_acc)
    # The feature clusters are the topic word blocks.
    blocks = np.repeat(np.arange(K), 60)
    assert adjusted_rand_score(blocks, cc.feature_labels_[: K * 60]) > 0.9


# -- the numerical pieces, against independent computations --------------------------


def test_mutual_information_matches_sklearn():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 5, size=(7, 5))
    assert mutual_information(counts / counts.sum()) == pytest.approx(
        mutual_info_score(None, None, contingency=counts), rel=1e-12
    )


def test_cocluster_loss_is_kl_to_the_compressed_model():
    # Dhillon, Mallela & Modha (KDD 2003), Lemma 2.1: I(X;Z) - I(X~;Z~) = KL(p || q) with
    # q(x, z) = p(x~, z~) p(x | x~) p(z | z~). Computed here element by element.
    rng = np.random.default_rng(2)
    P = rng.random((8, 6)) * (rng.random((8, 6)) > 0.3)
    P /= P.sum()
    rows, cols = np.array([0, 1, 0, 2, 1, 2, 0, 1]), np.array([0, 1, 1, 0, 2, 2])
    px, pz = P.sum(1), P.sum(0)
    kl = 0.0
    for x in range(8):
        for z in range(6):
            if P[x, z] == 0:
                continue
            block = P[np.ix_(rows == rows[x], cols == cols[z])].sum()
            q = block * px[x] / px[rows == rows[x]].sum() * pz[z] / pz[cols == cols[z]].sum()
            kl += P[x, z] * np.log(P[x, z] / q)
    assert cocluster_loss(P, rows, cols) == pytest.approx(kl, rel=1e-10)


def test_stc_refuses_one_feature():
    # p(Z | x) over one feature is 1 for every row: it returned one cluster
    rng = np.random.default_rng(0)
    one = DomainPair(Domain(rng.random((30, 1))), Domain(rng.random((30, 1))), n_clusters=2)
    with pytest.raises(ValueError, match="SelfTaughtClustering: the domains have 1 feature"):
        SelfTaughtClustering().fit(one)


def test_stc_objective_never_increases_and_is_the_sum_of_losses(pair):
    stc = SelfTaughtClustering(trade_off=0.5).fit(pair)
    objective = np.array([h["objective"] for h in stc.history_])
    assert np.all(np.diff(objective) <= 1e-12)
    last = stc.history_[-1]
    Pt, Ps = pair.target.X / pair.target.X.sum(), pair.source.X / pair.source.X.sum()
    assert last["target_loss"] == pytest.approx(
        cocluster_loss(Pt, stc.labels_, stc.feature_labels_)
    )
    assert last["source_loss"] == pytest.approx(
        cocluster_loss(Ps, stc.source_labels_, stc.feature_labels_)
    )
    assert last["objective"] == pytest.approx(last["target_loss"] + 0.5 * last["source_loss"])
    assert last["changed"] == 0 and stc.n_iter_ < stc.max_iter  # converged


def test_stc_recovers_dhillon_example():
    # The 6x6 joint distribution of Dhillon et al. (KDD 2003, Section 4): its optimal
    # co-clustering puts rows {0,1}, {2,3}, {4,5} and columns {0,1,2}, {3,4,5} together.
    P = np.array(
        [
            [5, 5, 5, 0, 0, 0],
            [5, 5, 5, 0, 0, 0],
            [0, 0, 0, 5, 5, 5],
            [0, 0, 0, 5, 5, 5],
            [4, 4, 4, 0, 4, 4],
            [4, 4, 0, 4, 4, 4],
        ],
        dtype=float,
    )
    pair = DomainPair(Domain(P), Domain(P), n_clusters=3)
    stc = SelfTaughtClustering(n_feature_clusters=2).fit(pair)
    assert adjusted_rand_score([0, 0, 1, 1, 2, 2], stc.labels_) == 1.0
    assert adjusted_rand_score([0, 0, 0, 1, 1, 1], stc.feature_labels_) == 1.0


def test_orthonormal_projection_is_the_polar_factor():
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(9, 3)))
    B = rng.normal(size=(3, 3))
    S = B @ B.T + 3 * np.eye(3)  # symmetric positive definite
    # F = Q S has polar decomposition (Q)(S): its closest orthonormal matrix is Q.
    np.testing.assert_allclose(orthonormal_projection(Q @ S), Q, atol=1e-10)


@pytest.mark.parametrize("scale", [2.0**-54, 1e-16])
def test_tsc_does_not_depend_on_a_tiny_feature_scale(pair, scale):
    # scikit-learn's cosine (sklearn.preprocessing.normalize) leaves rows of L2 norm below
    # ~2.2e-15 unnormalised, as zero rows: at these scales every target row (norms <= 2.6)
    # was at distance ~1 from every other and the kNN graph was arbitrary (its pattern
    # changed in 2268 places). The graph is now built on the features scaled by a power
    # of two.
    ref = TransferSpectralClustering().fit(pair)
    tiny = DomainPair(
        Domain(pair.source.X * scale), Domain(pair.target.X * scale, pair.target.y), n_clusters=K
    )
    for a, b in ((pair.target.X, tiny.target.X), (pair.source.X, tiny.source.X)):
        G, G_tiny = (_knn_affinity(x.astype(np.float64), 10, "cosine") for x in (a, b))
        np.testing.assert_array_equal(G_tiny.toarray(), G.toarray())
    got = TransferSpectralClustering().fit(tiny)
    np.testing.assert_array_equal(got.labels_, ref.labels_)
    if scale == 2.0**-54:
        # A power of two (with an even exponent: the square roots of the bipartite
        # normalisation scale exactly too) changes no rounding anywhere: bit for bit.
        np.testing.assert_array_equal(got.embedding_, ref.embedding_)


def test_tsc_without_transfer_is_the_spectral_embedding(pair):
    # r = 0: F_t spans the top-k eigenvectors of D^-1/2 W D^-1/2 of the target kNN graph.
    tsc = TransferSpectralClustering(trade_off=0.0, n_neighbors=8).fit(pair)
    W = kneighbors_graph(pair.target.X, 8, metric="cosine").toarray()
    W = np.maximum(W, W.T)
    d = W.sum(1)
    vals, vecs = np.linalg.eigh(W / np.sqrt(np.outer(d, d)))
    top = vecs[:, np.argsort(vals)[::-1][:K]]
    # embedding_ = F_t with unit rows, F_t = top @ R for an orthogonal R (eigenvector signs
    # / rotation within the eigenspace), and row norms do not depend on R.
    basis = top / np.linalg.norm(top, axis=1, keepdims=True)
    R = np.linalg.lstsq(basis, tsc.embedding_, rcond=None)[0]
    np.testing.assert_allclose(basis @ R, tsc.embedding_, atol=1e-6)
    np.testing.assert_allclose(R.T @ R, np.eye(K), atol=1e-6)
    assert tsc.n_iter_ == 0


def test_coclustering_recovers_block_structure():
    rng = np.random.default_rng(4)
    blocks = np.kron(np.eye(3), np.ones((10, 8)))
    X = blocks * rng.uniform(1, 2, size=blocks.shape)
    pair = DomainPair(Domain(X[::2]), Domain(X[1::2]), n_clusters=3)
    cc = CrossDomainCoclustering().fit(pair)
    truth = np.repeat(np.arange(3), 10)
    assert adjusted_rand_score(truth[1::2], cc.labels_) == 1.0
    assert adjusted_rand_score(np.repeat(np.arange(3), 8), cc.feature_labels_) == 1.0


def test_coclustering_with_zero_columns_and_a_zero_target_row():
    # Regression: scikit-learn scales by 1/sqrt(degree), so a zero column or row made the
    # fit fail on NaN. Zero rows / columns are now left out of the co-clustering.
    rng = np.random.default_rng(5)
    blocks = np.kron(np.eye(3), np.ones((10, 8)))
    X = np.hstack([blocks * rng.uniform(1, 2, size=blocks.shape), np.zeros((30, 1))])
    Xt = np.vstack([X[1::2], np.zeros((1, 25))])  # last target row: no active feature
    pair = DomainPair(Domain(X[::2]), Domain(Xt), n_clusters=3)
    cc = CrossDomainCoclustering().fit(pair)
    truth = np.repeat(np.arange(3), 10)
    assert adjusted_rand_score(truth[1::2], cc.labels_[:-1]) == 1.0
    assert adjusted_rand_score(np.repeat(np.arange(3), 8), cc.feature_labels_[:24]) == 1.0
    assert cc.feature_labels_[24] == -1  # zero in both domains: in no co-cluster
    # The non-zero rows and columns are co-clustered exactly as scikit-learn does alone
    # (on the pair's stored features, which Domain keeps in float32).
    A = np.vstack([pair.source.X, pair.target.X[:-1]]).astype(np.float64)
    ref = SpectralCoclustering(3, random_state=0).fit(A[:, :24])
    np.testing.assert_array_equal(np.r_[cc.source_labels_, cc.labels_[:-1]], ref.row_labels_)
    np.testing.assert_array_equal(cc.feature_labels_[:24], ref.column_labels_)
    # The zero row takes the cluster whose mean row is nearest to it (to the origin).
    rows = ref.row_labels_
    norms = [np.linalg.norm(A[rows == c].mean(axis=0)) for c in range(3)]
    assert cc.labels_[-1] == int(np.argmin(norms))


def test_coclustering_the_review_case_with_an_unused_feature():
    # The third feature is zero in every row (the reviewer's example).
    A = np.array([[3.0, 1, 0], [1, 3, 0], [4, 1, 0], [1, 4, 0]])
    cc = CrossDomainCoclustering(n_clusters=2).fit(
        DomainPair(Domain(A[:2]), Domain(A[2:]), n_clusters=2)
    )
    assert cc.feature_labels_[2] == -1
    assert adjusted_rand_score([0, 1, 0, 1], np.r_[cc.source_labels_, cc.labels_]) == 1.0


def test_coclustering_at_zero_shift_digits():
    # make_digits_pair(shift=0) has 3 pixels that are zero in both domains (4 in the
    # target): the case that used to fail; the module docstring's measured figures.
    pair = make_digits_pair(shift=0.0, seed=0)
    with pytest.warns(UserWarning, match="target's rows fall in 9 of the 10 co-clusters"):
        stacked = cluster_acc(pair.target.y, CrossDomainCoclustering().fit(pair).labels_)
    alone = cluster_acc(pair.target.y, spectral_cocluster(pair.target.X, 10)[0])
    assert round(stacked, 2) == 0.53 and round(alone, 2) == 0.45


def test_coclustering_needs_a_non_empty_row_per_cluster():
    Xt = np.zeros((4, 3))
    Xt[0, 0] = 1.0
    pair = DomainPair(Domain(np.ones((2, 3))), Domain(Xt), n_clusters=4)
    with pytest.raises(ValueError, match="CrossDomainCoclustering: only 3 rows have a non-zero"):
        CrossDomainCoclustering().fit(pair)


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (SelfTaughtClustering, "SelfTaughtClustering"),
        (TransferSpectralClustering, "TransferSpectralClustering"),
        (CrossDomainCoclustering, "CrossDomainCoclustering"),
    ],
)
@pytest.mark.parametrize("role", ["source", "target"])
def test_negative_features_are_refused(pair, cls, name, role):
    Xs, Xt = pair.source.X.copy(), pair.target.X.copy()
    (Xs if role == "source" else Xt)[0, 0] = -1.0
    bad = DomainPair(Domain(Xs), Domain(Xt), n_clusters=K)
    # the advice names what a `dtc run` user can pass: the benchmark's stored features
    with pytest.raises(
        ValueError, match=rf"{name}: requires non-negative features.*{role}.*--data preprocess=raw"
    ):
        cls().fit(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda A: A.__setitem__(slice(0, 5), -A[:5]), "input A has a minimum of"),
        (lambda A: A.__setitem__((0, 0), np.nan), "input A must hold finite values"),
        # one non-zero feature column: scikit-learn's IndexError, naming nothing
        (lambda A: A.__setitem__((slice(None), slice(1, None)), 0.0), r"only 1 feature column"),
    ],
)
def test_spectral_cocluster_refuses_negative_or_nan_entries(change, message):
    # Rows with a negative sum passed for empty rows and were labelled without a word.
    A = np.random.default_rng(0).random((40, 10))
    change(A)
    with pytest.raises(ValueError, match=f"spectral_cocluster: .*{message}"):
        spectral_cocluster(A, 3)
    with pytest.raises(ValueError, match="spectral_cocluster: expected a non-empty A"):
        spectral_cocluster(A[0], 3)


def test_bad_parameters_are_refused(pair):
    with pytest.raises(ValueError, match="SelfTaughtClustering: trade_off"):
        SelfTaughtClustering(trade_off=-1).fit(pair)
    with pytest.raises(ValueError, match="SelfTaughtClustering: n_feature_clusters=999"):
        SelfTaughtClustering(n_feature_clusters=999).fit(pair)
    with pytest.raises(ValueError, match="TransferSpectralClustering: n_neighbors"):
        TransferSpectralClustering(n_neighbors=500).fit(pair)
    with pytest.raises(ValueError, match="CrossDomainCoclustering: svd_method"):
        CrossDomainCoclustering(svd_method="lapack").fit(pair)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("stc", SelfTaughtClustering),
        ("tsc", TransferSpectralClustering),
        ("coclustering", CrossDomainCoclustering),
    ],
)
def test_registered_and_clonable(name, cls):
    assert methods.get_class(name) is cls
    est = methods.get(name, n_clusters=4)
    assert clone(est).get_params() == est.get_params()
    assert cls.uses_source and not cls.requires_source_labels


def test_non_negative_methods_declare_it():
    # Runners read this to hand such methods the raw (non-negative) features.
    from dtc import methods

    needs = {n for n in methods.available() if methods.get_class(n).requires_non_negative}
    assert needs == {"coclustering", "stc", "tsc"}


def test_tsc_first_step_follows_the_finite_difference_gradient_of_the_objective():
    # r > 0, one round on a tiny pair, rebuilt with dense numpy: F_t, F_s step along the
    # gradient of the docstring objective (here by central differences, exact for a
    # quadratic), then F_z = proj(A_t' F_t + A_s' F_s).
    rng = np.random.default_rng(5)
    Xt, Xs = rng.uniform(0, 1, (9, 5)), rng.uniform(0, 1, (11, 5))
    r, step, k, nn = 2.0, 0.7, 2, 3
    pair = DomainPair(Domain(Xs), Domain(Xt), n_clusters=k)
    tsc = TransferSpectralClustering(
        trade_off=r, n_neighbors=nn, metric="euclidean", step=step, max_iter=1, tol=0.0
    ).fit(pair)

    def scaled(B):  # D_r^-1/2 B D_c^-1/2
        return B / np.sqrt(np.outer(B.sum(1), B.sum(0)))

    def knn(X):
        D = np.linalg.norm(X[:, None] - X[None], axis=2) + np.diag(np.full(len(X), np.inf))
        W = np.zeros_like(D)
        W[np.arange(len(X))[:, None], np.argsort(D, axis=1)[:, :nn]] = 1.0
        return scaled(np.maximum(W, W.T))

    Wt, Ws, At, As = knn(Xt), knn(Xs), scaled(Xt), scaled(Xs)

    def top(M):
        vals, vecs = np.linalg.eigh(M)
        return vecs[:, np.argsort(vals)[::-1][:k]]

    Fz = np.linalg.svd(scaled(np.vstack([At, As])))[2][:k].T
    Ft, Fs = top(Wt), top(Ws)
    for F, A in ((Ft, At), (Fs, As)):
        F[:, np.einsum("ij,ij->j", F, A @ Fz) < 0] *= -1

    def part(F, W, A, Z):
        return np.trace(F.T @ W @ F) + r * np.trace(F.T @ A @ Z)

    def objective(Ft, Fs, Fz):
        return part(Ft, Wt, At, Fz) + part(Fs, Ws, As, Fz)

    def fd_step(F, W, A):
        g, h = np.zeros_like(F), 1e-4
        for idx in np.ndindex(F.shape):
            E = np.zeros_like(F)
            E[idx] = h
            g[idx] = (part(F + E, W, A, Fz) - part(F - E, W, A, Fz)) / (2 * h)
        U, _, Vt = np.linalg.svd(F + step * g / np.linalg.norm(g), full_matrices=False)
        return U @ Vt

    assert tsc.history_[0]["objective"] == pytest.approx(objective(Ft, Fs, Fz), rel=1e-9)
    Ft1, Fs1 = fd_step(Ft, Wt, At), fd_step(Fs, Ws, As)
    U, _, Vt = np.linalg.svd(At.T @ Ft1 + As.T @ Fs1, full_matrices=False)
    Fz1 = U @ Vt
    assert tsc.n_iter_ == 1
    assert tsc.history_[1]["objective"] == pytest.approx(objective(Ft1, Fs1, Fz1), rel=1e-7)
    # Column signs are arbitrary (the whole round is equivariant under them).
    np.testing.assert_allclose(np.abs(tsc.feature_embedding_), np.abs(Fz1), atol=1e-7)


def test_coclustering_warns_when_the_target_spans_fewer_co_clusters():
    # The source holds three blocks of rows and features, the target only the first two:
    # the third co-cluster is source rows and features only.
    rng = np.random.default_rng(6)
    blocks = np.kron(np.eye(3), np.ones((10, 8)))
    X = blocks * rng.uniform(1, 2, size=blocks.shape)
    pair = DomainPair(Domain(X[::2]), Domain(X[1:20:2]), n_clusters=3)
    with pytest.warns(UserWarning, match="target's rows fall in 2 of the 3 co-clusters"):
        cc = CrossDomainCoclustering().fit(pair)
    assert adjusted_rand_score(np.repeat([0, 1], 5), cc.labels_) == 1.0
    assert np.unique(cc.source_labels_).size == 3


def test_coclustering_refuses_one_cluster_by_name():
    # one cluster left no singular vector: scikit-learn's KMeans failed on "0 feature(s)"
    rng = np.random.default_rng(0)
    pair = DomainPair(Domain(rng.random((20, 5))), Domain(rng.random((10, 5))))
    with pytest.raises(ValueError, match="CrossDomainCoclustering: n_clusters must be at least 2"):
        CrossDomainCoclustering(n_clusters=1).fit(pair)


def _feature_criterion(P, rows, cols, kz):
    """``p(z) KL(p(X | z) || p^(X | z~))`` for every feature ``z`` and feature cluster
    ``z~``, shape ``(m, kz)``, with ``p^(x | z~) = p(x | x~) p(x~ | z~)`` (Dai et al.,
    ICML 2008, eq. 9), by explicit loops over the definitions."""
    n, m = P.shape
    px, pz = P.sum(1), P.sum(0)
    out = np.zeros((m, kz))
    for z in range(m):
        for zc in range(kz):
            block_z = P[:, cols == zc].sum()
            for x in range(n):
                if P[x, z] == 0:
                    continue
                same = rows == rows[x]
                q = px[x] / px[same].sum() * P[np.ix_(same, cols == zc)].sum() / block_z
                out[z, zc] += P[x, z] * np.log((P[x, z] / pz[z]) / max(q, 1e-300))
    return out


def _row_criterion(P, rows, cols, kr):
    """``KL(p(Z | x) || p^(Z | x~))`` for every row ``x`` and row cluster ``x~``, shape
    ``(n, kr)``, with ``p^(z | x~) = p(z | z~) p(z~ | x~)`` (Dai et al., ICML 2008, eq. 8),
    by explicit loops over the definitions."""
    n, m = P.shape
    px, pz = P.sum(1), P.sum(0)
    out = np.zeros((n, kr))
    for x in range(n):
        for xc in range(kr):
            block_x = P[rows == xc].sum()
            for z in range(m):
                if P[x, z] == 0:
                    continue
                same = cols == cols[z]
                q = pz[z] / pz[same].sum() * P[np.ix_(rows == xc, same)].sum() / block_x
                out[x, xc] += P[x, z] / px[x] * np.log((P[x, z] / px[x]) / max(q, 1e-300))
    return out


def test_stc_first_round_follows_the_papers_three_updates_by_hand(monkeypatch):
    # Dai et al. (ICML 2008), Algorithm 1, one round from a given initialisation (the
    # K-means of the initialisation stubbed): C_X(x) = argmin KL(p(Z|x) || p^(Z|x~)),
    # C_Y likewise with q, then C_Z(z) = argmin p(z) KL(p(X|z) || p^(X|z~)) + lambda q(z)
    # KL(q(Y|z) || q^(Y|z~)) with the new row clusters. Target and source disagree on the
    # features, so lambda decides where some features go.
    import baselines.self_taught as self_taught

    rng = np.random.default_rng(7)
    Xt = rng.poisson(np.kron(np.eye(3), np.ones((6, 4))) * 4 + 0.5).astype(float)
    order = np.r_[0:2, 4:6, 8:10, 2:4, 6:8, 10:12]
    Xs = rng.poisson(np.kron(np.eye(2), np.ones((9, 6))) * 4 + 0.5)[:, order].astype(float)
    rows_t0, rows_s0 = np.arange(18) % 3, np.arange(18) % 2
    cols0 = np.array([0, 1, 2] * 4)
    pair = DomainPair(Domain(Xs), Domain(Xt), n_clusters=3)
    Pt, Ps = Xt / Xt.sum(), Xs / Xs.sum()
    moved = []
    for lam in (0.1, 10.0):
        init = iter([rows_t0, rows_s0, cols0, rows_t0])
        monkeypatch.setattr(
            self_taught, "kmeans", lambda *a, _init=init, **k: (next(_init), None, None)
        )
        stc = SelfTaughtClustering(
            n_source_clusters=2, n_feature_clusters=3, trade_off=lam, max_iter=1
        ).fit(pair)
        rows_t = _row_criterion(Pt, rows_t0, cols0, 3).argmin(axis=1)
        rows_s = _row_criterion(Ps, rows_s0, cols0, 2).argmin(axis=1)
        crit = _feature_criterion(Pt, rows_t, cols0, 3) + lam * _feature_criterion(
            Ps, rows_s, cols0, 3
        )
        np.testing.assert_array_equal(stc.labels_, rows_t)
        np.testing.assert_array_equal(stc.source_labels_, rows_s)
        np.testing.assert_array_equal(stc.feature_labels_, crit.argmin(axis=1))
        assert stc.n_iter_ == 1
        moved.append(stc.feature_labels_)
    assert not np.array_equal(*moved)  # lambda matters here


def test_reassign_keeps_the_current_cluster_where_it_ties_with_the_best():
    # Without the rule the loop could cycle between equally good assignments. By hand:
    # row 0 ties (1, 1): keeps 1; row 1 ties (2, 2): keeps 2; row 2's 0 is better: moves;
    # row 3 ties within the relative 1e-12 of the best: keeps 1.
    from baselines.self_taught import _reassign

    scores = np.array(
        [[1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [3.0, 1.0, 0.0], [-5.0, -5 * (1 + 1e-13), -9.0]]
    )
    np.testing.assert_array_equal(_reassign(scores, np.array([1, 2, 1, 1])), [1, 2, 0, 1])
    # an exact tie at a best score of 0 (no relative slack) keeps the current cluster too
    np.testing.assert_array_equal(_reassign(np.zeros((2, 3)), np.array([2, 1])), [2, 1])


def test_normalize_bipartite_is_dense_dr_a_dc_with_zero_rows_and_columns_kept_zero():
    # D_r^-1/2 A D_c^-1/2 entry by entry in numpy, on a matrix with an all-zero row and an
    # all-zero column (the documented "rows / columns of zero sum stay zero" branch; the
    # TSC finite-difference test only reaches strictly positive sums).
    import scipy.sparse as sp

    from baselines.transfer_spectral import normalize_bipartite

    rng = np.random.default_rng(0)
    A = rng.random((5, 4))
    A[2] = 0.0
    A[:, 1] = 0.0
    r, c = A.sum(1), A.sum(0)
    expected = np.zeros_like(A)
    for i in range(5):
        for j in range(4):
            if r[i] > 0 and c[j] > 0:
                expected[i, j] = A[i, j] / np.sqrt(r[i] * c[j])
    got = normalize_bipartite(A)
    assert sp.issparse(got) and got.shape == (5, 4)
    np.testing.assert_allclose(got.toarray(), expected, rtol=1e-13, atol=0)
    np.testing.assert_allclose(
        normalize_bipartite(sp.csr_matrix(A)).toarray(), expected, rtol=1e-13
    )


def test_stc_source_clusters_are_n_source_clusters_and_may_be_every_source_row():
    rng = np.random.default_rng(0)
    Xt = rng.poisson(np.kron(np.eye(3), np.ones((6, 4))) * 4 + 0.5).astype(float)
    Xs = rng.poisson(np.kron(np.eye(3), np.ones((2, 4))) * 4 + 0.5).astype(float)
    pair = DomainPair(Domain(Xs), Domain(Xt), n_clusters=3)
    stc = SelfTaughtClustering(n_source_clusters=2, max_iter=0).fit(pair)
    assert set(stc.source_labels_) == {0, 1}  # the initial K-means of 2 clusters
    # as many source clusters as source rows is allowed ("n_source_clusters > n_source")
    stc = SelfTaughtClustering(n_source_clusters=6, max_iter=0).fit(pair)
    assert sorted(stc.source_labels_) == list(range(6))


def test_cross_domain_coclustering_passes_its_seed_and_restarts(monkeypatch):
    import baselines.coclustering as coclustering

    seen = []
    real = coclustering.SpectralCoclustering

    def spy(*a, **kw):
        seen.append({key: kw[key] for key in ("n_init", "random_state", "svd_method")})
        return real(*a, **kw)

    monkeypatch.setattr(coclustering, "SpectralCoclustering", spy)
    rng = np.random.default_rng(0)
    X = rng.poisson(np.kron(np.eye(2), np.ones((10, 4))) * 4 + 0.5).astype(float)
    pair = DomainPair(Domain(X), Domain(X.copy()), n_clusters=2)
    CrossDomainCoclustering(n_init=3, svd_method="arpack", seed=7).fit(pair)
    assert seen == [{"n_init": 3, "random_state": 7, "svd_method": "arpack"}]


def test_tsc_refuses_as_many_neighbours_as_the_smaller_domains_samples():
    # a kNN graph without self-loops has at most n - 1 neighbours per sample
    rng = np.random.default_rng(0)
    pair = DomainPair(Domain(rng.random((12, 5))), Domain(rng.random((20, 5))), n_clusters=2)
    with pytest.raises(ValueError, match="TransferSpectralClustering: n_neighbors=12 needs more"):
        TransferSpectralClustering(n_neighbors=12).fit(pair)
    assert TransferSpectralClustering(n_neighbors=11).fit(pair).labels_.shape == (20,)
