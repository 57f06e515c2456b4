"""Shallow domain adaptation baselines and model transfer (CORAL, SA, TCA, JDA, OT).

The synthetic task: three clusters separated along ``x``; the target's ``y`` is stretched
5x (target-only K-means then prefers bands across ``y``, ACC ~0.58) and, in the shifted
variant, translated by ``(3, 0, 10)`` (source-seeded K-means without adaptation then
collapses as well). Each baseline must recover the target clusters through its own
mapping. The transforms are checked against closed forms / brute-force formulas.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from sklearn.base import clone
from sklearn.decomposition import PCA

import dtc.methods
from baselines.coral import CORAL, coral_transform
from baselines.jda import JDA, _conditional_vectors, jda_transform
from baselines.model_transfer import ModelTransfer
from baselines.ot_da import OTEMD, OTL1l2, OTSinkhorn, ot_transform
from baselines.subspace_alignment import SubspaceAlignment, subspace_alignment_transform
from baselines.tca import TCA, marginal_mmd_vector, mmd_embedding, tca_transform
from dtc.data import Domain, DomainPair
from dtc.metrics import acc_unmatched, cluster_acc

SHIFT = (3.0, 0.0, 10.0)


def make_pair(shift=SHIFT, stretch=5.0, n=150, seed=0, labelled=True) -> DomainPair:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n)

    def domain():
        x = np.array([-3.0, 0.0, 3.0])[y] + 0.35 * rng.standard_normal(3 * n)
        return np.c_[x, 0.7 * rng.standard_normal(3 * n), 0.1 * rng.standard_normal(3 * n)]

    Xs, Xt = domain(), domain()
    Xt[:, 1] *= stretch
    Xt += np.asarray(shift)
    source = Domain(Xs, y if labelled else None, name="source")
    return DomainPair(source, Domain(Xt, y, name="target"), n_clusters=3)


@pytest.fixture(scope="module")
def shifted():
    return make_pair()


@pytest.fixture(scope="module")
def kmeans_acc(shifted):
    est = dtc.methods.get("kmeans").fit(shifted)
    return cluster_acc(shifted.target.y, est.labels_)


def unlabelled(pair):
    return DomainPair(pair.source.without_labels(), pair.target, n_clusters=pair.n_clusters)


CASES = [
    ("coral", {}, True),
    ("coral", {}, False),
    ("coral", {"direction": "source_to_target", "init": "source"}, True),
    ("subspace_alignment", {"n_components": 2}, True),
    ("subspace_alignment", {"n_components": 2}, False),
    ("tca", {"n_components": 2, "normalize": False, "init": "source"}, True),
    ("tca", {"n_components": 2, "normalize": False, "init": "source"}, False),
    ("jda", {"n_components": 2, "normalize": False, "init": "source"}, True),
    ("jda", {"n_components": 2, "normalize": False, "init": "source"}, False),
    ("ot_emd", {}, False),
    ("ot_sinkhorn", {"reg_e": 0.05}, False),
    ("ot_l1l2", {"reg_e": 0.05}, True),
]


@pytest.mark.parametrize(("name", "params", "labelled"), CASES)
def test_transfer_baseline_beats_target_kmeans(shifted, kmeans_acc, name, params, labelled):
    pair = shifted if labelled else unlabelled(shifted)
    est = dtc.methods.get(name, **params).fit(pair)
    acc = cluster_acc(shifted.target.y, est.labels_)
    assert kmeans_acc < 0.65  # the task defeats target-only K-means
    assert acc >= 0.97, f"{name} {params}: ACC {acc:.3f}"
    assert est.embedding_.shape[0] == shifted.target.n_samples
    assert est.source_embedding_.shape[0] == shifted.source.n_samples


def test_model_transfer_helps_without_shift_and_needs_adaptation_with_it(shifted, kmeans_acc):
    plain = make_pair(shift=(0.0, 0.0, 0.0))
    est = ModelTransfer().fit(plain)
    assert cluster_acc(plain.target.y, est.labels_) >= 0.97
    assert acc_unmatched(plain.target.y, est.labels_, est.cluster_classes_) >= 0.97
    # With the translation, source class means no longer seed the right clusters: the
    # feature adaptation of the other baselines is what recovers them.
    with pytest.warns(
        UserWarning, match=r"source centres of classes \[0\] are nearest to no target"
    ):
        shifted_acc = cluster_acc(shifted.target.y, ModelTransfer().fit(shifted).labels_)
    assert shifted_acc < 0.7  # and the warning said why: a class mean lost all its points
    unl = ModelTransfer().fit(unlabelled(plain))
    assert cluster_acc(plain.target.y, unl.labels_) >= 0.97
    assert not hasattr(unl, "cluster_classes_")


def _lloyd(X, centres, max_iter=300):
    """Lloyd's iterations in NumPy (float64) from ``centres`` ``(k, d)`` to a fixed point."""
    X, centres = np.asarray(X, np.float64), np.asarray(centres, np.float64)
    for _ in range(max_iter):
        labels = ((X[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        new = np.stack([X[labels == c].mean(0) for c in range(len(centres))])
        if np.allclose(new, centres, rtol=0, atol=1e-12):
            break
        centres = new
    return labels, centres


def test_model_transfer_is_lloyd_from_the_source_class_means_or_cluster_centres():
    # Independent of dtc.cluster: Lloyd's iterations written out in NumPy, started at the
    # source class means (labelled source; cluster c named by the c-th class in sorted
    # order) or at scikit-learn's K-means centres of the source (unlabelled source).
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(21)
    means = np.array([[0.0, 0.0], [3.0, 0.5], [1.0, 3.0]])
    ys = np.repeat([7, 3, 5], 40)  # class names neither sorted nor 0-based
    Xs = means[np.repeat([0, 1, 2], 40)] + 0.9 * rng.standard_normal((120, 2))
    Xt = means[np.repeat([0, 1, 2], 50)] + [0.6, -0.4] + 1.1 * rng.standard_normal((150, 2))
    pair = DomainPair(Domain(Xs, ys), Domain(Xt), n_clusters=3)
    Xs64, Xt64 = pair.source.X.astype(np.float64), pair.target.X.astype(np.float64)
    est = ModelTransfer(seed=1).fit(pair)
    start = np.stack([Xs64[ys == c].mean(0) for c in (3, 5, 7)])
    labels, centres = _lloyd(Xt64, start)
    np.testing.assert_array_equal(est.labels_, labels)
    np.testing.assert_allclose(est.cluster_centers_, centres, atol=1e-5)
    np.testing.assert_array_equal(est.cluster_classes_, [3, 5, 7])
    # the start decides the names: target K-means++ at this seed numbers them otherwise
    assert not np.array_equal(KMeans(3, n_init=10, random_state=1).fit(Xt64).labels_, labels)
    unl = ModelTransfer(seed=4).fit(unlabelled(pair))
    start = KMeans(3, n_init=10, random_state=4).fit(Xs64).cluster_centers_
    labels, centres = _lloyd(Xt64, start)
    np.testing.assert_array_equal(unl.labels_, labels)
    np.testing.assert_allclose(unl.cluster_centers_, centres, atol=1e-5)


def test_cluster_classes_name_clusters_by_source_class(shifted):
    # Relabel the source classes 0,1,2 -> 5,7,9: cluster_classes_ must carry the names.
    names = np.array([5, 7, 9])
    src = Domain(shifted.source.X, names[shifted.source.y], name="source")
    pair = DomainPair(src, shifted.target, n_clusters=3)
    est = SubspaceAlignment(n_components=2).fit(pair)
    assert sorted(est.cluster_classes_.tolist()) == [5, 7, 9]
    assert acc_unmatched(names[shifted.target.y], est.labels_, est.cluster_classes_) >= 0.97
    assert not hasattr(CORAL().fit(pair), "cluster_classes_")  # k-means++ init names nothing


# -- closed forms -----------------------------------------------------------
def test_coral_adapted_covariance_closed_form():
    rng = np.random.default_rng(1)
    Xs = rng.standard_normal((400, 4)) @ rng.standard_normal((4, 4))
    Xt = rng.standard_normal((300, 4)) @ rng.standard_normal((4, 4)) + 2.0
    # reg = 0: the adapted source has exactly the target covariance.
    np.testing.assert_allclose(
        np.cov(coral_transform(Xs, Xt, reg=0.0), rowvar=False),
        np.cov(Xt, rowvar=False),
        rtol=1e-8,
        atol=1e-8,
    )
    # reg > 0: Ct_r^{1/2} Cs_r^{-1/2} Cs Cs_r^{-1/2} Ct_r^{1/2}, with scipy's sqrtm.
    reg = 0.5
    Cs, Ct = np.cov(Xs, rowvar=False), np.cov(Xt, rowvar=False)
    root_t = scipy.linalg.sqrtm(Ct + reg * np.eye(4)).real
    inv_root_s = np.linalg.inv(scipy.linalg.sqrtm(Cs + reg * np.eye(4)).real)
    expected = root_t @ inv_root_s @ Cs @ inv_root_s @ root_t
    Z = coral_transform(Xs, Xt, reg=reg, match_means=True)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), expected, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(Z.mean(axis=0), Xt.mean(axis=0), atol=1e-10)
    # The map itself is X_s Cs_r^{-1/2} Ct_r^{1/2} (the paper's Algorithm 1).
    plain = coral_transform(Xs, Xt, reg=reg)
    np.testing.assert_allclose(plain, Xs @ inv_root_s @ root_t, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(("n_s", "n_t"), [(15, 25), (15, 80), (80, 25)])
def test_coral_of_wide_data_is_the_closed_form_without_a_d_by_d_matrix(n_s, n_t):
    # d = 60 > n in one domain or both: the SVD route applies each covariance power to the
    # rows; the map must be the paper's X_s Cs_r^{-1/2} Ct_r^{1/2} (scipy's sqrtm).
    import tracemalloc

    rng = np.random.default_rng(3)
    d, reg = 60, 0.7
    Xs = rng.standard_normal((n_s, d)) * rng.uniform(0.5, 2.0, d)
    Xt = rng.standard_normal((n_t, d)) * 1.5 + 0.3
    root_t = scipy.linalg.sqrtm(np.cov(Xt, rowvar=False) + reg * np.eye(d)).real
    inv_root_s = np.linalg.inv(scipy.linalg.sqrtm(np.cov(Xs, rowvar=False) + reg * np.eye(d)).real)
    np.testing.assert_allclose(
        coral_transform(Xs, Xt, reg=reg), Xs @ inv_root_s @ root_t, rtol=1e-8, atol=1e-8
    )
    matched = coral_transform(Xs, Xt, reg=reg, match_means=True)
    expected = (Xs - Xs.mean(0)) @ inv_root_s @ root_t + Xt.mean(0)
    np.testing.assert_allclose(matched, expected, rtol=1e-8, atol=1e-8)
    # 3,000 features and 20 rows a domain: one (d, d) matrix is 72 MB, the rows 0.5 MB
    wide_s, wide_t = rng.standard_normal((20, 3000)), rng.standard_normal((20, 3000))
    tracemalloc.start()
    try:
        coral_transform(wide_s, wide_t)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10e6, peak


def test_subspace_alignment_matrix_is_ps_transpose_pt():
    rng = np.random.default_rng(2)
    Xs = rng.standard_normal((200, 6)) * np.array([5, 4, 3, 2, 1, 0.5])
    Xt = (rng.standard_normal((150, 6)) * np.array([6, 3, 2.5, 1.5, 1, 0.3])) @ np.linalg.qr(
        rng.standard_normal((6, 6)) * 0.1 + np.eye(6)
    )[0]
    Zs, Zt, M = subspace_alignment_transform(Xs, Xt, 3)
    Ps = PCA(3).fit(Xs).components_.T
    Pt = PCA(3).fit(Xt).components_.T
    # Principal directions are defined up to sign: compare after fixing the signs.
    sign_t = np.sign(np.sum(Zt * ((Xt - Xt.mean(0)) @ Pt), axis=0))
    np.testing.assert_allclose(Zt, (Xt - Xt.mean(0)) @ Pt * sign_t, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(Zs, (Xs - Xs.mean(0)) @ Ps @ (Ps.T @ Pt) * sign_t, atol=1e-8)
    np.testing.assert_allclose(np.abs(M), np.abs(Ps.T @ Pt), atol=1e-8)
    est = SubspaceAlignment(n_components=3, init="k-means++").fit(
        DomainPair(Domain(Xs), Domain(Xt), n_clusters=2)
    )
    np.testing.assert_allclose(np.abs(est.alignment_matrix_), np.abs(Ps.T @ Pt), atol=1e-6)


@pytest.mark.parametrize("direction", ["target_to_source", "source_to_target"])
def test_coral_reg0_refuses_a_singular_covariance(shifted, direction):
    # A constant feature in the re-coloured domain: C^{-1/2} does not exist (it used to
    # give features of size ~1e138). reg > 0 is unaffected.
    Xs, Xt = shifted.source.X.copy(), shifted.target.X.copy()
    (Xt if direction == "target_to_source" else Xs)[:, 2] = 1.0
    pair = DomainPair(Domain(Xs, shifted.source.y), Domain(Xt), n_clusters=3)
    with pytest.raises(ValueError, match=r"CORAL: reg=0 .* rank 2 < d=3 .*use reg > 0"):
        CORAL(reg=0.0, direction=direction).fit(pair)
    assert np.isfinite(CORAL(reg=1.0, direction=direction).fit(pair).embedding_).all()


def test_a_kernel_tcas_component_limit_is_explained_by_the_kernel():
    """ "min of the feature dimension and the sample counts" (3 here) was given as the reason
    for a limit of 60 = n_s + n_t, the kernel matrix's side."""
    rng = np.random.default_rng(0)
    pair = DomainPair(
        Domain(rng.normal(size=(30, 3)), np.arange(30) % 2),
        Domain(rng.normal(size=(30, 3))),
        n_clusters=2,
    )
    with pytest.raises(ValueError, match=r"at most 60 components .*or by n_s \+ n_t with a kernel"):
        TCA(2, kernel="rbf", n_components=61).fit(pair)
    assert TCA(2, kernel="rbf", n_components=20).fit(pair).embedding_.shape == (30, 20)


def test_coral_transform_reg0_with_fewer_samples_than_features():
    rng = np.random.default_rng(6)
    Xs, Xt = rng.standard_normal((4, 6)), rng.standard_normal((30, 6))
    with pytest.raises(ValueError, match=r"coral_transform: reg=0 .* rank 3 < d=6"):
        coral_transform(Xs, Xt, reg=0.0)
    assert np.isfinite(coral_transform(Xs, Xt, reg=1e-3)).all()
    # n = d fails too (n rows span n - 1 dimensions): "fewer samples than features" was
    # given as the cause of 3 rows of 3 non-constant features
    square = rng.standard_normal((3, 3))
    with pytest.raises(ValueError, match=r"rank 2 < d=3 .*no more samples than features"):
        coral_transform(square, Xt[:, :3], reg=0.0)
    assert np.isfinite(coral_transform(rng.standard_normal((4, 3)), Xt[:, :3], reg=0.0)).all()


def test_mmd_vectors_match_the_papers_matrices_entry_by_entry():
    # Long et al. (ICCV 2013): eq. (3), the marginal MMD matrix M_0 (Pan et al.'s TCA
    # matrix L), and eq. (6), the conditional M_c from the target pseudo-labels. The JDA
    # code uses C * M_0 + sum_c M_c, and sets the target entries of a class that no target
    # sample is pseudo-labelled with to 0 (``e(isinf(e)) = 0``). Built entry by entry here.
    ns, nt, C = 7, 6, 3
    ys = np.array([0, 1, 2, 0, 1, 2, 1])
    yt = np.array([0, 0, 2, 2, 2, 0])  # class 1 is absent from the pseudo-labels
    n = ns + nt
    source = np.arange(n) < ns
    M0 = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if source[i] and source[j]:
                M0[i, j] = 1 / ns**2
            elif not source[i] and not source[j]:
                M0[i, j] = 1 / nt**2
            else:
                M0[i, j] = -1 / (ns * nt)
    e = marginal_mmd_vector(ns, nt)  # TCA: M_0 = e e^T
    np.testing.assert_allclose(np.outer(e, e), M0, rtol=1e-14, atol=0)
    labels = np.r_[ys, yt]
    M = C * M0
    for c in range(C):
        nsc, ntc = np.sum(ys == c), np.sum(yt == c)
        for i in range(n):
            for j in range(n):
                if labels[i] != c or labels[j] != c:
                    continue
                if source[i] and source[j]:
                    M[i, j] += 1 / nsc**2
                elif not source[i] and not source[j]:
                    M[i, j] += 1 / ntc**2 if ntc else 0.0
                else:
                    M[i, j] += -1 / (nsc * ntc) if ntc else 0.0
    E = np.c_[marginal_mmd_vector(ns, nt, C), _conditional_vectors(ys, yt, C, ns, nt)]
    np.testing.assert_allclose(E @ E.T, M, rtol=1e-13, atol=1e-16)


def _brute_force_directions(F, M, lam, p):
    """Top-p generalised eigenvectors of (F^T H F) v = mu (F^T M F + lam I) v, the
    authors' formula with explicit n x n matrices and a general eigen-solver."""
    n, q = F.shape
    H = np.eye(n) - np.ones((n, n)) / n
    A = F.T @ M @ F + lam * np.eye(q)
    w, V = scipy.linalg.eig(F.T @ H @ F, A)
    order = np.argsort(-w.real)[:p]
    V = V[:, order].real
    return V / np.linalg.norm(V, axis=0)


@pytest.mark.parametrize("q", [5, 60])  # q < n: Y^T Y path; q > n: Gram-matrix path
def test_mmd_embedding_matches_brute_force(q):
    rng = np.random.default_rng(3)
    ns, nt, C = 25, 20, 3
    F = rng.standard_normal((ns + nt, q))
    ys, yt = rng.integers(0, C, ns), rng.integers(0, C, nt)
    # Explicit MMD matrix as in the JDA code: C * e e^T + sum_c e_c e_c^T, / ||.||_F.
    e = np.r_[np.full(ns, 1 / ns), np.full(nt, -1 / nt)]
    M = C * np.outer(e, e)
    cols = [np.sqrt(C) * e]
    for c in range(C):
        src, tar = (ys == c).astype(float), (yt == c).astype(float)
        ec = np.r_[src / src.sum(), -tar / tar.sum()]
        M += np.outer(ec, ec)
        cols.append(ec)
    M /= np.linalg.norm(M, "fro")
    V = mmd_embedding(F, np.stack(cols, axis=1), 4, 0.3)
    expected = _brute_force_directions(F, M, 0.3, 4)
    signs = np.sign(np.sum(V * expected, axis=0))
    np.testing.assert_allclose(V * signs, expected, atol=1e-6)


@pytest.mark.parametrize(("distinct", "p"), [(None, 11), (6, 8)])
def test_mmd_embedding_past_the_rank_gives_null_directions(distinct, p):
    # Gram-matrix path (n = 11 < q = 40) with p beyond the rank of H F (n - 1 = 10; 5
    # with 6 distinct rows): the missing directions have mu = 0, i.e. F^T H F v = 0, so
    # their embedded coordinate is constant. They used to be rounding noise divided by
    # ~0: a direction with a spread like the real ones (and not an eigenvector).
    rng = np.random.default_rng(7)
    ns, nt, q = 5, 6, 40
    F = rng.standard_normal((ns + nt, q))
    if distinct is not None:
        F = F[np.arange(ns + nt) % distinct]
    rank = np.linalg.matrix_rank(F - F.mean(axis=0))
    E = marginal_mmd_vector(ns, nt)[:, None]
    V = mmd_embedding(F, E, p, 0.3)
    np.testing.assert_allclose(np.linalg.norm(V, axis=0), 1.0)
    # The leading directions are the brute-force generalised eigenvectors ...
    M = E @ E.T / np.linalg.norm(E @ E.T, "fro")
    expected = _brute_force_directions(F, M, 0.3, rank)
    signs = np.sign(np.sum(V[:, :rank] * expected, axis=0))
    np.testing.assert_allclose(V[:, :rank] * signs, expected, atol=1e-6)
    # ... and the rest lie in the null space of H F (constant embedded coordinate).
    Z = F @ V[:, rank:]
    assert np.ptp(Z, axis=0).max() < 1e-10
    assert np.ptp(F @ V[:, :rank], axis=0).min() > 1e-3


def test_jda_first_iteration_is_tca_and_conditional_terms_change_it():
    rng = np.random.default_rng(4)
    Xs, Xt = rng.standard_normal((60, 8)), rng.standard_normal((50, 8)) + 0.5
    ys = np.repeat(np.arange(3), 20)
    Zs1, Zt1, _ = jda_transform(Xs, ys, Xt, n_components=4, n_iter=1)
    Zs0, Zt0 = tca_transform(Xs, Xt, n_components=4)
    np.testing.assert_allclose(np.abs(Zs1), np.abs(Zs0), atol=1e-10)
    np.testing.assert_allclose(np.abs(Zt1), np.abs(Zt0), atol=1e-10)
    Zs2, _, yt = jda_transform(Xs, ys, Xt, n_components=4, n_iter=2)
    assert not np.allclose(np.abs(Zs2), np.abs(Zs0), atol=1e-6)
    assert yt.shape == (50,) and set(np.unique(yt)) <= {0, 1, 2}
    np.testing.assert_allclose(np.linalg.norm(Zs1, axis=1), 1.0)  # normalize=True


@pytest.mark.parametrize("pseudo_labels", ["nn", "kmeans"])
def test_jda_transform_counts_the_classes_present_not_the_largest_label(pseudo_labels):
    # C weighs the marginal term (the authors' length(unique(Y_src))). Labels {0, 2, 5}
    # were read as C = 6: another embedding than that of the same classes numbered 0..2.
    rng = np.random.default_rng(4)
    Xs, Xt = rng.standard_normal((60, 8)), rng.standard_normal((50, 8)) + 0.5
    ys = np.repeat(np.arange(3), 20)
    gapped = np.array([0, 2, 5])[ys]
    kw = {"n_components": 4, "n_iter": 3, "pseudo_labels": pseudo_labels}
    Zs, Zt, yt = jda_transform(Xs, ys, Xt, **kw)
    Zs_g, Zt_g, yt_g = jda_transform(Xs, gapped, Xt, **kw)
    np.testing.assert_allclose(np.abs(Zs_g), np.abs(Zs), atol=1e-10)
    np.testing.assert_allclose(np.abs(Zt_g), np.abs(Zt), atol=1e-10)
    np.testing.assert_array_equal(yt_g, np.array([0, 2, 5])[yt])


@pytest.mark.parametrize(
    ("ys", "message"),
    [
        (None, "JDA: ys is required"),
        (np.arange(60) % 3 - 1, "JDA: ys: expected non-negative class labels"),
        (np.arange(40) % 3, "JDA: ys: expected 60 labels"),
        (np.arange(60) % 3 + 0.5, "JDA: ys: expected integer class labels"),
        ((np.arange(60) % 3).astype(str), "JDA: ys: expected integer class labels"),
    ],
)
def test_jda_transform_refuses_bad_source_labels_by_name(ys, message):
    # Class labels are non-negative integers throughout the toolkit; the other cases failed
    # deep inside numpy / scikit-learn without naming ys.
    rng = np.random.default_rng(4)
    Xs, Xt = rng.standard_normal((60, 8)), rng.standard_normal((50, 8))
    with pytest.raises(ValueError, match=message):
        jda_transform(Xs, ys, Xt, n_components=4, n_iter=2)


def test_jda_pseudo_labels_are_source_class_labels(shifted):
    # Source classes 5, 7, 9 (not 0..C-1): JDA works on class indices inside, and the
    # pseudo-labels it reports (the paper's 1-NN prediction) are the source's classes,
    # as a classifier's are; they used to come back as the indices 0, 1, 2.
    names = np.array([5, 7, 9])
    renamed = DomainPair(
        Domain(shifted.source.X, names[shifted.source.y]), shifted.target, n_clusters=3
    )
    params = {"n_components": 2, "normalize": False, "n_iter": 2}
    est = JDA(**params).fit(renamed)
    ref = JDA(**params).fit(shifted)  # classes 0, 1, 2: the indices are the classes
    np.testing.assert_array_equal(est.pseudo_labels_, names[ref.pseudo_labels_])
    assert np.mean(est.pseudo_labels_ == names[shifted.target.y]) >= 0.97


def test_jda_warns_once_of_a_class_the_target_lacks_and_names_it():
    # The target holds source classes 0, 3, 5 of {0, 3, 5, 7, 8, 9}: the warning named
    # centres "[3, 4, 5]" (indices; classes 3 and 5 are in the target), and JDA's K-means
    # pseudo-labels repeated it at every iteration (10 copies a fit: scikit-learn's
    # catch_warnings resets Python's once-per-line memory).
    import warnings

    rng = np.random.default_rng(0)
    centres, labels = np.eye(6) * 10, np.array([0, 3, 5, 7, 8, 9])
    Xs = np.vstack([c + rng.normal(size=(20, 6)) for c in centres])
    Xt = np.vstack([c + rng.normal(size=(30, 6)) for c in centres[:3]])
    pair = DomainPair(Domain(Xs, np.repeat(labels, 20)), Domain(Xt))
    params = {"n_clusters": 6, "kernel": "linear", "pseudo_labels": "kmeans", "n_iter": 4}
    for init, expected in (("k-means++", 1), ("source", 2)):  # + the final clustering's
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            JDA(init=init, **params).fit(pair)
        messages = [str(w.message) for w in caught]
        assert len(messages) == expected, messages
        assert all("source centres of classes [7, 8, 9] are nearest" in m for m in messages)


def test_tca_reduces_the_mean_discrepancy():
    pair = make_pair()
    Xs, Xt = pair.source.X.astype(float), pair.target.X.astype(float)
    Zs, Zt = tca_transform(Xs, Xt, n_components=2, normalize=False, kernel="primal")
    # Normalised by the spread, the domain means are far apart before and close after.
    before = np.linalg.norm(Xs.mean(0) - Xt.mean(0)) / np.vstack([Xs, Xt]).std(0).sum()
    after = np.linalg.norm(Zs.mean(0) - Zt.mean(0)) / np.vstack([Zs, Zt]).std(0).sum()
    assert after < 0.1 * before


@pytest.mark.parametrize("mu", [0.01, 100.0])
def test_tca_lam_is_pan_et_als_mu_over_the_norm_of_the_mmd_matrix(mu):
    # Pan et al. (TNN 2011): W = the leading eigenvectors of (K L K + mu I)^-1 K H K, with
    # L = e e^T unnormalised; tca_transform divides L by ||L||_F = 1/n_s + 1/n_t, so the
    # paper's mu is lam = mu / (1/n_s + 1/n_t) (the docstring had it inverted, which gives
    # the opposite regime everywhere but mu = 1)
    import scipy.linalg
    from sklearn.metrics.pairwise import rbf_kernel

    rng = np.random.default_rng(1)
    ns, nt = 30, 20
    Xs, Xt = rng.normal(size=(ns, 5)), rng.normal(size=(nt, 5)) + 1.5
    K = rbf_kernel(np.vstack([Xs, Xt]), gamma=0.1)
    e = np.r_[np.full(ns, 1 / ns), np.full(nt, -1 / nt)]
    H = np.eye(ns + nt) - 1 / (ns + nt)
    vals, vecs = scipy.linalg.eig(
        np.linalg.solve(K @ np.outer(e, e) @ K + mu * np.eye(ns + nt), K @ H @ K)
    )
    paper = K @ vecs[:, np.argsort(-vals.real)[:2]].real
    lam = mu / (1 / ns + 1 / nt)
    Z = np.vstack(
        tca_transform(Xs, Xt, n_components=2, lam=lam, kernel="rbf", gamma=0.1, normalize=False)
    )
    cosines = np.abs((paper / np.linalg.norm(paper, axis=0) * Z / np.linalg.norm(Z, axis=0)).sum(0))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-6)


def test_ot_mapping_uses_the_coupling():
    rng = np.random.default_rng(5)
    Xs, Xt = rng.standard_normal((30, 2)), rng.standard_normal((20, 2)) + 4
    Zs, Zt, G = ot_transform(Xs, Xt, method="emd")
    np.testing.assert_allclose(G.sum(axis=1), 1 / 30, atol=1e-12)
    np.testing.assert_allclose(G.sum(axis=0), 1 / 20, atol=1e-12)
    np.testing.assert_allclose(Zt, (G.T @ Xs) / G.sum(axis=0)[:, None], atol=1e-10)
    assert Zs is not None and np.array_equal(Zs, Xs)
    Zs2, Zt2, G2 = ot_transform(Xs, Xt, method="sinkhorn", reg_e=0.1, direction="source_to_target")
    np.testing.assert_allclose(Zs2, (G2 @ Xt) / G2.sum(axis=1)[:, None], atol=1e-8)
    assert np.array_equal(Zt2, Xt)


def test_ot_emd_coupling_is_the_optimal_assignment_of_scipy():
    """The exact-OT coupling is optimal, not only feasible: with as many source as target
    samples and uniform weights, exact OT is the assignment problem, so the coupling must
    be scipy's ``linear_sum_assignment`` permutation of the squared-Euclidean cost, divided
    by n (the ``max`` cost normalisation does not move the optimum), and the barycentric
    map sends each target sample onto its assigned source sample."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(8)
    Xs, Xt = rng.standard_normal((12, 3)), rng.standard_normal((12, 3)) + 1.5
    _, Zt, G = ot_transform(Xs, Xt, method="emd")
    rows, cols = linear_sum_assignment(cdist(Xs, Xt, "sqeuclidean"))
    expected = np.zeros((12, 12))
    expected[rows, cols] = 1 / 12
    np.testing.assert_allclose(G, expected, atol=1e-12)
    np.testing.assert_allclose(Zt, Xs[rows[np.argsort(cols)]], atol=1e-12)


def test_ot_sinkhorn_coupling_matches_a_numpy_sinkhorn_of_the_max_normalised_cost():
    """The entropic coupling against Sinkhorn's scaling iterations written out in NumPy
    (Cuturi, NeurIPS 2013): ``K = exp(-M / reg_e)`` for the squared-Euclidean cost divided
    by its maximum (``cost_norm="max"``), ``u = a / K v``, ``v = b / K^T u`` to convergence,
    ``G = diag(u) K diag(v)``; and the source moved onto the target is ``n_s G X_t``."""
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(9)
    Xs, Xt = rng.standard_normal((15, 2)), rng.standard_normal((10, 2)) + 2.0
    Zs, Zt, G = ot_transform(Xs, Xt, method="sinkhorn", reg_e=0.1, direction="source_to_target")
    M = cdist(Xs, Xt, "sqeuclidean")
    K = np.exp(-(M / M.max()) / 0.1)
    a, b, v = np.full(15, 1 / 15), np.full(10, 1 / 10), np.ones(10)
    for _ in range(5000):
        u = a / (K @ v)
        v = b / (K.T @ u)
    expected = u[:, None] * K * v[None]
    # POT stops at a marginal error of 1e-9: entries agree to that, relative to the largest
    np.testing.assert_allclose(G, expected, rtol=0, atol=1e-9 * expected.max())
    np.testing.assert_allclose(Zs, 15 * expected @ Xt, atol=1e-8)
    assert np.array_equal(Zt, Xt)


# -- contract ---------------------------------------------------------------
ESTIMATORS = [CORAL, SubspaceAlignment, TCA, JDA, OTEMD, OTSinkhorn, OTL1l2, ModelTransfer]
NAMES = {
    "coral": CORAL,
    "subspace_alignment": SubspaceAlignment,
    "tca": TCA,
    "jda": JDA,
    "ot_emd": OTEMD,
    "ot_sinkhorn": OTSinkhorn,
    "ot_l1l2": OTL1l2,
    "model_transfer": ModelTransfer,
}


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_sklearn_clone_keeps_params(cls):
    est = cls(n_clusters=3, seed=4)
    twin = clone(est)
    assert twin.get_params() == est.get_params()


def test_registered_names():
    for name, cls in NAMES.items():
        assert dtc.methods.get_class(name) is cls


def test_target_labels_never_reach_the_method(shifted):
    # fit(pair) masks the target labels: shuffling them cannot change the result.
    rng = np.random.default_rng(0)
    noisy = DomainPair(
        shifted.source, Domain(shifted.target.X, rng.permutation(shifted.target.y)), n_clusters=3
    )
    a = JDA(n_components=2, normalize=False, init="source").fit(shifted).labels_
    b = JDA(n_components=2, normalize=False, init="source").fit(noisy).labels_
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("est", "labelled", "message"),
    [
        (OTL1l2(), False, "OTL1l2: this method needs a labelled source"),
        (
            JDA(pseudo_labels="nn", n_components=2),
            False,
            "JDA: pseudo_labels='nn' needs a labelled",
        ),
        (
            SubspaceAlignment(n_clusters=2, n_components=2),
            True,
            "needs n_clusters equal to the number",
        ),
        (CORAL(init="random"), True, "CORAL: init must be one of"),
        (CORAL(direction="both"), True, "CORAL: direction must be one of"),
        (CORAL(reg=-1.0), True, "CORAL: reg must be a number >= 0"),
        (TCA(n_components=10), True, "n_components=10 but at most 3"),
        (TCA(lam=0.0), True, "TCA: lam must be a number > 0"),
        (TCA(kernel="poly"), True, "TCA: kernel must be one of"),
        (JDA(n_iter=0), True, "JDA: n_iter must be an int >= 1"),
        (OTSinkhorn(reg_e=0), True, "OTSinkhorn: reg_e must be a number > 0"),
        (OTEMD(cost_norm="sum"), True, "OTEMD: cost_norm must be one of"),
        (ModelTransfer(n_init=0), True, "ModelTransfer: n_init must be an int >= 1"),
    ],
)
def test_bad_input_raises_clear_value_error(shifted, est, labelled, message):
    pair = shifted if labelled else unlabelled(shifted)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        est.fit(pair)


def test_heterogeneous_pair_is_refused():
    pair = DomainPair(
        Domain(np.zeros((5, 3)) + np.arange(5)[:, None], np.arange(5) % 2),
        Domain(np.ones((6, 4)) + np.arange(6)[:, None]),
        heterogeneous=True,
        n_clusters=2,
    )
    with pytest.raises(
        ValueError, match=r"CORAL: the pair is heterogeneous \(source d=3, target d=4\)"
    ):
        CORAL().fit(pair)
    # equal d, declared heterogeneous: the message says so (it read like a faulty check)
    same_d = DomainPair(pair.source, Domain(pair.target.X[:, :3]), heterogeneous=True, n_clusters=2)
    with pytest.raises(ValueError, match=r"d=3, target d=3, declared with heterogeneous=True\)"):
        CORAL().fit(same_d)


def test_ot_transform_passes_max_iter_to_the_l1l2_solver():
    rng = np.random.default_rng(0)
    Xs, Xt = rng.standard_normal((30, 2)), rng.standard_normal((20, 2)) + 1
    ys = np.arange(30) % 3
    run = lambda **kw: ot_transform(Xs, Xt, ys, method="l1l2", reg_e=0.1, reg_cl=1.0, **kw)[2]  # noqa: E731
    default = run()
    # the default is POT's (max_iter=10), as before; a given max_iter reaches the solver
    np.testing.assert_array_equal(default, run(max_iter=10))
    assert not np.allclose(default, run(max_iter=1))
    with pytest.raises(ValueError, match="max_iter must be an int >= 1"):
        run(max_iter=0)


def test_ot_transform_l1l2_needs_labels():
    with pytest.raises(ValueError, match="method='l1l2' needs source labels"):
        ot_transform(np.zeros((3, 2)), np.ones((3, 2)), method="l1l2")


@pytest.mark.parametrize("est", [OTEMD, OTSinkhorn], ids=lambda est: est.__name__)
@pytest.mark.parametrize("n_source", [1, 2])
def test_ot_target_to_source_with_fewer_source_samples_than_clusters(est, n_source):
    # The target is moved onto n_source points: K-means found n_source clusters, with
    # only scikit-learn's warning.
    rng = np.random.default_rng(6)
    pair = DomainPair(
        Domain(rng.standard_normal((n_source, 2))),
        Domain(rng.standard_normal((30, 2))),
        n_clusters=3,
    )
    name = est.__name__
    with pytest.raises(
        ValueError,
        match=f"^{name}: the source has {n_source} samples, fewer than n_clusters=3",
    ):
        est().fit(pair)
    # The paper's direction leaves the target as it is: with k-means++ seeding that was
    # target K-means reported as OT, refused now
    with pytest.raises(ValueError, match=f"^{name}: direction='source_to_target' leaves"):
        est(direction="source_to_target").fit(pair)


@pytest.mark.parametrize("est", [OTEMD, OTSinkhorn], ids=lambda est: est.__name__)
def test_ot_target_to_source_with_as_many_source_samples_as_clusters(est):
    # The limit is "fewer than n_clusters": k source points are enough for k clusters.
    rng = np.random.default_rng(6)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    pair = DomainPair(
        Domain(centres + 0.1 * rng.standard_normal((3, 2))),
        Domain(np.repeat(centres, 10, axis=0) + rng.standard_normal((30, 2))),
        n_clusters=3,
    )
    labels = est().fit(pair).labels_
    assert np.unique(labels).size == 3


# -- closed forms added by mutation testing ----------------------------------
def _mmd_matrix(ns, nt, ys=None, yt=None, C=1):
    """Long et al.'s MMD matrix ``C M_0 + sum_c M_c`` (eqs. 3 and 6, ``C M_0`` as in their
    code) from explicit indicator vectors, divided by its Frobenius norm (the JDA code);
    ``yt=None``: ``C M_0`` only."""
    e = np.r_[np.full(ns, 1 / ns), np.full(nt, -1 / nt)]
    M = C * np.outer(e, e)
    if yt is not None:
        for c in range(C):
            src, tar = (ys == c).astype(float), (yt == c).astype(float)
            ec = np.r_[src / src.sum(), -tar / tar.sum() if tar.any() else tar]
            M += np.outer(ec, ec)
    return M / np.linalg.norm(M, "fro")


def _signs_to(Z, ref):
    return Z * np.sign(np.sum(Z * ref, axis=0))


@pytest.mark.parametrize("cls", [TCA, JDA])
def test_one_feature_with_normalize_is_refused_not_one_cluster(cls):
    # unit-norm rows of one feature are all +1: one cluster, with scikit-learn's
    # "duplicate points" warning alone
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    pair = DomainPair(Domain(rng.random((40, 1)) + y[:, None], y), Domain(rng.random((40, 1))))
    with pytest.raises(ValueError, match=f"{cls.__name__}: normalize=True .* one feature only"):
        cls(n_clusters=2, n_components=1).fit(pair)
    assert len(set(cls(n_clusters=2, n_components=1, normalize=False).fit(pair).labels_)) == 2


def test_tca_normalize_scales_samples_before_and_embedded_samples_after():
    # normalize=True (the JDA/TCA code): every sample to unit L2 norm, then the brute-force
    # generalised eigenvectors of that F, then every embedded sample to unit norm.
    rng = np.random.default_rng(11)
    Xs = rng.standard_normal((20, 5)) * rng.uniform(0.2, 5.0, (20, 1))
    Xt = rng.standard_normal((16, 5)) * rng.uniform(0.2, 5.0, (16, 1)) + 0.7
    Zs, Zt = tca_transform(Xs, Xt, n_components=3, lam=0.4, kernel="primal", normalize=True)
    X = np.vstack([Xs, Xt])
    F = X / np.linalg.norm(X, axis=1, keepdims=True)
    M = _mmd_matrix(20, 16)
    Z = F @ _brute_force_directions(F, M, 0.4, 3)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    np.testing.assert_allclose(_signs_to(np.vstack([Zs, Zt]), Z), Z, atol=1e-6)


def test_joint_features_kernels_by_hand():
    from scipy.spatial.distance import cdist

    from baselines.tca import joint_features

    rng = np.random.default_rng(12)
    Xs, Xt = rng.standard_normal((6, 4)), rng.standard_normal((5, 4))
    X = np.vstack([Xs, Xt])
    rbf = joint_features(Xs, Xt, kernel="rbf", gamma=0.3, normalize=False)
    np.testing.assert_allclose(rbf, np.exp(-0.3 * cdist(X, X, "sqeuclidean")), rtol=1e-12)
    lin = joint_features(Xs, Xt, kernel="linear", normalize=False)
    np.testing.assert_allclose(lin, X @ X.T, rtol=1e-12)
    np.testing.assert_array_equal(joint_features(Xs, Xt, kernel="primal", normalize=False), X)


def test_jda_transform_iterates_brute_force_embeddings_and_1nn_pseudo_labels():
    # Long et al. (ICCV 2013), Algorithm 1 with the authors' code's choices, written out
    # with explicit n x n matrices: iteration 1 embeds with C * M_0 (TCA), each later one
    # with C * M_0 + sum_c M_c of the previous 1-NN pseudo-labels (source class of the
    # nearest embedded source sample). Overlapping classes, so the 1-NN, a 3-NN and the
    # weight of M_0 all change the result.
    rng = np.random.default_rng(13)
    C, ns, nt, lam, p = 3, 45, 40, 0.5, 3
    ys = np.arange(ns) % C
    means = rng.standard_normal((C, 6))
    Xs = means[ys] + 1.2 * rng.standard_normal((ns, 6))
    Xt = means[np.arange(nt) % C] + 1.2 * rng.standard_normal((nt, 6)) + 0.8
    F = np.vstack([Xs, Xt])
    yt = None
    for _ in range(3):
        M = _mmd_matrix(ns, nt, ys, yt, C)
        Z = F @ _brute_force_directions(F, M, lam, p)
        dist = ((Z[ns:, None, :] - Z[None, :ns, :]) ** 2).sum(-1)
        yt = ys[dist.argmin(axis=1)]
    Zs, Zt, pseudo = jda_transform(
        Xs, ys, Xt, n_components=p, lam=lam, kernel="primal", n_iter=3, normalize=False
    )
    np.testing.assert_allclose(_signs_to(np.vstack([Zs, Zt]), Z), Z, atol=1e-6)
    np.testing.assert_array_equal(pseudo, yt)


def test_ot_l1l2_coupling_is_pots_group_lasso_ot_of_the_max_normalised_cost():
    # Courty et al. (TPAMI 2017), eq. (13): entropic OT plus reg_cl * sum_j sum_c
    # ||G[I_c, j]||_2. Against POT's solver on the explicitly normalised cost, uniform
    # weights; and, independently of POT, the group-lasso term is what reg_cl lowers.
    import ot
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(14)
    ys = np.arange(24) % 3
    Xs = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 2.0]])[ys] + 0.6 * rng.standard_normal((24, 2))
    Xt = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 2.0]])[np.arange(18) % 3] + 0.5
    Xt = Xt + 0.6 * rng.standard_normal((18, 2))
    _, _, G = ot_transform(Xs, Xt, ys, method="l1l2", reg_e=0.1, reg_cl=2.0)
    M = cdist(Xs, Xt, "sqeuclidean")
    ref = ot.da.sinkhorn_l1l2_gl(
        np.full(24, 1 / 24), ys, np.full(18, 1 / 18), M / M.max(), 0.1, 2.0, stopInnerThr=1e-8
    )
    np.testing.assert_allclose(G, ref, rtol=0, atol=1e-10)

    def group_lasso(G):
        return sum(np.linalg.norm(G[ys == c], axis=0).sum() for c in range(3))

    _, _, G0 = ot_transform(Xs, Xt, ys, method="l1l2", reg_e=0.1, reg_cl=0.0)
    assert group_lasso(G) < 0.95 * group_lasso(G0)


def _two_blobs_and_outliers():
    rng = np.random.default_rng(0)
    Xs = np.vstack([rng.normal(0, 1, (20, 5)), rng.normal(8, 1, (20, 5))])
    Xt = np.vstack(
        [rng.normal(0, 1, (20, 5)), rng.normal(8, 1, (20, 5)), rng.normal(30, 1, (3, 5))]
    )
    return Xs, np.repeat([0, 1], 20), Xt


def test_ot_refuses_a_coupling_that_did_not_converge():
    # POT's non-log Sinkhorn (inside l1l2) stopped on numerical errors with a printed
    # warning: a "coupling" of mass 1e-14 was mapped and clustered, without an error
    Xs, ys, Xt = _two_blobs_and_outliers()
    pair = DomainPair(Domain(Xs, ys), Domain(Xt), n_clusters=2)
    with pytest.raises(ValueError, match="OTL1l2: the l1l2 coupling did not converge"):
        OTL1l2(reg_e=1e-2, cost_norm=None).fit(pair)
    G = OTL1l2(reg_e=1e-2, cost_norm="max").fit(pair).coupling_  # converged: kept
    assert np.abs(G.sum(0) - 1 / 43).sum() < 1e-6
    with pytest.raises(ValueError, match=r"cost_norm=None\); raise reg_e or use cost_norm='max'$"):
        OTL1l2(reg_e=1e-2, cost_norm=None).fit(pair)


def test_ot_non_convergence_advises_only_what_can_act():
    """cost_norm='max' was advised when it was already the setting, and the iteration
    budget that a small reg_e needs was not named where it can be given."""
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(30, 3)), rng.normal(size=(30, 3)) + 1
    with pytest.raises(ValueError, match=r"cost_norm='max'\); raise reg_e or raise max_iter$"):
        ot_transform(Xs, Xt, method="sinkhorn", reg_e=1e-4)
    ot_transform(Xs, Xt, method="sinkhorn", reg_e=1e-4, max_iter=20000)  # the advice acts
    pair = DomainPair(Domain(Xs, np.arange(30) % 2), Domain(Xt), n_clusters=2)
    with pytest.raises(ValueError, match=r"cost_norm='max'\); raise reg_e$"):
        OTSinkhorn(2, reg_e=1e-4).fit(pair)


def test_ot_sinkhorn_map_stays_finite_at_a_small_reg():
    # POT's out-of-sample map overflowed (NaN rows) where the log-domain coupling is finite;
    # K-means then failed naming neither OTSinkhorn nor reg_e
    Xs, _, Xt = _two_blobs_and_outliers()
    # dtc's own warning alone: NumPy's overflow in POT's map is not passed on (it is mended)
    with pytest.warns(RuntimeWarning, match="coupling stopped short of convergence") as record:
        _, Zt, G = ot_transform(Xs, Xt, method="sinkhorn", reg_e=3e-4, cost_norm="max")
    assert len(record) == 1
    bary = (G.T / G.sum(0)[:, None]) @ Xs
    assert np.isfinite(Zt).all()
    np.testing.assert_allclose(Zt, bary, rtol=1e-9, atol=1e-9)


def test_ot_sinkhorn_source_to_target_map_stays_finite_and_barycentric_at_a_small_reg():
    # The same overflow in POT's forward map (transform): with the outliers in the mapped
    # domain, its rows must be the barycentric map of the coupling's rows, G_i. X_t / sum G_i.
    Xs, _, Xt = _two_blobs_and_outliers()
    with pytest.warns(RuntimeWarning, match="coupling stopped short of convergence") as record:
        Zs, Zt, G = ot_transform(
            Xt, Xs, method="sinkhorn", reg_e=3e-4, cost_norm="max", direction="source_to_target"
        )
    assert len(record) == 1
    bary = (G / G.sum(1, keepdims=True)) @ Xs
    assert np.isfinite(Zs).all()
    np.testing.assert_allclose(Zs, bary, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(Zt, Xs)


def test_ot_transform_names_labels_it_cannot_use():
    # string labels failed deep in POT ("ufunc 'multiply' did not contain a loop ..."),
    # naming neither ot_transform nor ys
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="ot_transform: ys: expected integer class labels"):
        ot_transform(X, X + 1, np.array(["a"] * 10 + ["b"] * 10), method="l1l2")
    with pytest.raises(ValueError, match="ot_transform: ys: expected 20 labels"):
        ot_transform(X, X + 1, np.zeros(5, dtype=int), method="l1l2")


def _small_labelled_pair(n=30, d=4, seed=0):
    rng = np.random.default_rng(seed)
    ys = np.arange(n) % 2
    Xs = rng.normal(size=(n, d)) + 3 * ys[:, None]
    Xt = rng.normal(size=(n, d)) + 3 * ys[:, None] + 1
    pair = DomainPair(Domain(Xs, ys), Domain(Xt), n_clusters=2)
    # the features as the estimators read them (a Domain may store another float dtype)
    return pair.source.X.astype(np.float64), ys, pair.target.X.astype(np.float64), pair


def test_tca_and_jda_estimators_pass_gamma_to_the_rbf_kernel():
    Xs, ys, Xt, pair = _small_labelled_pair()
    for gamma in (0.05, 2.0):
        tca = TCA(kernel="rbf", gamma=gamma, n_components=3).fit(pair)
        _, Zt = tca_transform(Xs, Xt, kernel="rbf", gamma=gamma, n_components=3)
        np.testing.assert_allclose(tca.embedding_, Zt, atol=1e-10)
        jda = JDA(kernel="rbf", gamma=gamma, n_components=3, n_iter=2).fit(pair)
        _, Zt, _ = jda_transform(Xs, ys, Xt, kernel="rbf", gamma=gamma, n_components=3, n_iter=2)
        np.testing.assert_allclose(jda.embedding_, Zt, atol=1e-10)
    # gamma matters here: the embedding at 2.0 is not the one at 1.0
    _, Zt1 = tca_transform(Xs, Xt, kernel="rbf", gamma=1.0, n_components=3)
    assert not np.allclose(np.abs(tca.embedding_), np.abs(Zt1), atol=1e-3)


def test_tca_and_jda_default_to_100_components_where_more_exist():
    # n_components=None: min(100, n_s + n_t, q) (Long et al.'s k = 100); here q = 150
    # primal, 120 with the (auto) linear kernel: 100 either way.
    rng = np.random.default_rng(0)
    Xs, Xt = rng.random((60, 150)), rng.random((60, 150)) + 0.5
    ys = np.arange(60) % 2
    for kernel in ("primal", "auto"):
        Zs, Zt = tca_transform(Xs, Xt, kernel=kernel)
        assert Zs.shape == (60, 100) and Zt.shape == (60, 100)
    Zs, Zt, _ = jda_transform(Xs, ys, Xt, n_iter=1)
    assert Zs.shape == (60, 100) and Zt.shape == (60, 100)
    # and the limit where fewer exist: 40 rows by 150 with the kernel
    assert tca_transform(Xs[:20], Xt[:20])[0].shape == (20, 40)


def test_jda_auto_pseudo_labels_are_nn_with_a_labelled_source_and_kmeans_without():
    Xs, _, Xt, pair = _small_labelled_pair(n=40, seed=3)
    fits = {
        mode: JDA(n_components=3, n_iter=3, pseudo_labels=mode).fit(pair)
        for mode in ("auto", "nn", "kmeans")
    }
    np.testing.assert_array_equal(fits["auto"].embedding_, fits["nn"].embedding_)
    np.testing.assert_array_equal(fits["auto"].pseudo_labels_, fits["nn"].pseudo_labels_)
    assert not np.allclose(fits["auto"].embedding_, fits["kmeans"].embedding_)
    unlabelled = DomainPair(Domain(Xs), Domain(Xt), n_clusters=2)
    auto = JDA(n_components=3, n_iter=3, pseudo_labels="auto").fit(unlabelled)
    kmeans = JDA(n_components=3, n_iter=3, pseudo_labels="kmeans").fit(unlabelled)
    np.testing.assert_array_equal(auto.embedding_, kmeans.embedding_)


@pytest.mark.parametrize("match_means", [False, True])
def test_coral_estimator_is_coral_transform_with_its_parameters(match_means):
    Xs, _, Xt, pair = _small_labelled_pair()
    est = CORAL(reg=0.5, match_means=match_means).fit(pair)
    np.testing.assert_allclose(
        est.embedding_, coral_transform(Xt, Xs, reg=0.5, match_means=match_means), atol=1e-10
    )
    np.testing.assert_array_equal(est.source_embedding_, Xs)
