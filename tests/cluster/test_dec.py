"""DEC head against NumPy formulas on a hand example, gradcheck in float64, bad input."""

import numpy as np
import pytest
import torch

from dtc.cluster.dec import (
    ClusteringLayer,
    dec_loss,
    has_converged,
    label_change_fraction,
    soft_assignment,
    target_distribution,
)

Z = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
MU = np.array([[0.0, 0.0], [3.0, 4.0]])


def _q_numpy(z, mu, alpha):
    d2 = ((z[:, None, :] - mu[None]) ** 2).sum(-1)
    kern = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return kern / kern.sum(1, keepdims=True)


def test_soft_assignment_hand_example():
    q = soft_assignment(torch.tensor(Z), torch.tensor(MU), alpha=1.0).numpy()
    # Row 0: distances^2 0 and 25 -> kernels 1 and 1/26.
    np.testing.assert_allclose(q[0], [26 / 27, 1 / 27], rtol=1e-12)
    # Row 1: distances^2 1 and 20 -> kernels 1/2 and 1/21.
    np.testing.assert_allclose(q[1], [0.5 / (0.5 + 1 / 21), (1 / 21) / (0.5 + 1 / 21)], rtol=1e-12)
    for alpha in (1.0, 0.5, 3.0):
        q = soft_assignment(torch.tensor(Z), torch.tensor(MU), alpha=alpha).numpy()
        np.testing.assert_allclose(q, _q_numpy(Z, MU, alpha), rtol=1e-10)


def test_target_distribution_and_loss_against_numpy():
    rng = np.random.default_rng(0)
    z, mu = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    q = _q_numpy(z, mu, 1.0)
    w = q**2 / q.sum(0)
    p = w / w.sum(1, keepdims=True)
    qt = soft_assignment(torch.tensor(z), torch.tensor(mu))
    pt = target_distribution(qt)
    assert not pt.requires_grad
    np.testing.assert_allclose(pt.numpy(), p, rtol=1e-10)
    kl = (p * np.log(p / q)).sum() / 7
    np.testing.assert_allclose(dec_loss(qt, pt).item(), kl, rtol=1e-10)
    # KL(P||P) = 0, zeros in P contribute nothing.
    onehot = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert dec_loss(onehot.clamp_min(1e-300), onehot).item() == pytest.approx(0.0, abs=1e-12)


def test_points_past_float32s_squared_range_are_computed_in_float64():
    # |z - mu|^2 ~ 1e40 overflows float32: every q was NaN. Reference: the Student-t kernel
    # by hand, q_ij ∝ (1 + d_ij^2 / alpha)^(-(alpha + 1) / 2), in float64.
    z = torch.tensor([[1e20, 0.0], [3e20, 0.0]], dtype=torch.float32, requires_grad=True)
    mu = torch.tensor([[0.0, 0.0], [2e20, 0.0]], dtype=torch.float32)
    q = soft_assignment(z, mu, alpha=2.0)
    d2 = np.array([[1e40, 1e40], [9e40, 1e40]])
    w = (1 + d2 / 2.0) ** -1.5
    expected = w / w.sum(1, keepdims=True)  # row 0: equal distances, 1/2 and 1/2
    np.testing.assert_allclose(q.detach().numpy(), expected, rtol=1e-6)
    assert q.dtype == torch.float32
    (q * torch.tensor([[1.0, 0.0], [0.0, 1.0]])).sum().backward()
    assert torch.isfinite(z.grad).all()
    # float64 rows past its own squared range: named, not NaN
    with pytest.raises(ValueError, match=r"^z, centers: squared distances overflow"):
        soft_assignment(z.detach().double() * 1e140, mu.double() * 1e140)


def test_a_small_alpha_whose_ratio_overflows_float32_is_computed_in_float64():
    # d^2 ~ 1e37 is finite in float32, d^2 / 0.01 is not: q came out one-hot or NaN
    z = torch.tensor([[1e18, 0.0], [2e18, 0.0]], dtype=torch.float32)
    mu = torch.tensor([[0.0, 0.0], [3e18, 0.0]], dtype=torch.float32)
    q = soft_assignment(z, mu, alpha=0.01)
    d2 = np.array([[1e36, 4e36], [4e36, 1e36]])
    w = (1 + d2 / 0.01) ** (-1.01 / 2)
    np.testing.assert_allclose(q.numpy(), w / w.sum(1, keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("where", ["z", "centers"])
def test_non_finite_inputs_are_named(where):
    z, mu = torch.zeros(3, 2), torch.ones(2, 2)
    (z if where == "z" else mu)[0, 0] = float("nan")
    with pytest.raises(ValueError, match=rf"^{where}: expected finite values"):
        soft_assignment(z, mu)


def test_rows_that_are_no_distributions_are_refused():
    q = soft_assignment(torch.tensor(Z), torch.tensor(MU))
    p = target_distribution(q)
    # 3 q gave a negative "KL"; q - 0.1 (negative entries) a NaN; q * 1e-45 squared to 0
    with pytest.raises(ValueError, match=r"^q rows must sum to 1"):
        dec_loss(3 * q, p)
    with pytest.raises(ValueError, match=r"^q must be finite and non-negative"):
        dec_loss(q - 0.1, p)
    with pytest.raises(ValueError, match=r"^p rows must sum to 1"):
        dec_loss(q, 2 * p)
    with pytest.raises(ValueError, match=r"^q rows must sum to 1"):
        target_distribution(q * 1e-45)


@pytest.mark.parametrize(
    ("x", "alpha", "dtype", "atol"),
    [
        (1e6, 1.0, torch.float32, 1e-7),
        (100.0, 50.0, torch.float32, 1e-5),  # kernels ~1e-59: below float32's range
        (1e6, 100.0, torch.float64, 1e-12),  # kernels ~1e-505: below float64's range
    ],
)
def test_far_points_do_not_underflow(x, alpha, dtype, atol):
    # Rows far from both centres: where both kernels underflow to 0, normalising them
    # directly gave NaN (finite and summing to 1 said nothing: at alpha 1 and 1e6 they do
    # not underflow). Reference: with two centres q_1 / q_0 is the ratio of the kernels,
    # ((alpha + d_0^2) / (alpha + d_1^2))^((alpha + 1) / 2), a number near 1, in float64.
    z = np.array([[x, 0.0], [-x, 0.0]])
    mu = np.array([[0.0, 0.0], [1.0, 0.0]])
    q = soft_assignment(torch.tensor(z, dtype=dtype), torch.tensor(mu, dtype=dtype), alpha=alpha)
    d2 = ((z[:, None, :] - mu[None]) ** 2).sum(-1)
    ratio = ((alpha + d2[:, 0]) / (alpha + d2[:, 1])) ** ((alpha + 1) / 2)
    expected = np.stack([1 / (1 + ratio), ratio / (1 + ratio)], axis=1)
    np.testing.assert_allclose(q.double().numpy(), expected, rtol=0, atol=atol)


@pytest.mark.parametrize("offset", [0.0, 100.0, 1000.0])
def test_float32_far_from_the_origin_against_float64(offset):
    # The squared distances come from an expansion whose terms grow with the squared norms;
    # uncentred, float32 embeddings near 1,000 gave q off by 0.1 (offset 100: 2e-3).
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(3, 8)) + offset
    z = mu[rng.integers(0, 3, size=200)] + 0.5 * rng.normal(size=(200, 8))
    q = soft_assignment(torch.tensor(z, dtype=torch.float32), torch.tensor(mu, dtype=torch.float32))
    # The reference: the float32-rounded inputs, differences taken directly in float64.
    z32, mu32 = z.astype(np.float32).astype(np.float64), mu.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(q.numpy(), _q_numpy(z32, mu32, 1.0), atol=1e-6)


@pytest.mark.parametrize("offset", [100.0, 1000.0])
def test_float32_with_one_centre_far_from_the_others_against_float64(offset):
    # Shifting by the centres' mean left the expansion's cancellation when the centres
    # themselves lie far apart: q off by 0.034 with one centre at -1,000.
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(3, 8)) + offset
    mu[0] -= 2 * offset
    z = mu[rng.integers(0, 3, size=200)] + 0.5 * rng.normal(size=(200, 8))
    q = soft_assignment(torch.tensor(z, dtype=torch.float32), torch.tensor(mu, dtype=torch.float32))
    z32, mu32 = z.astype(np.float32).astype(np.float64), mu.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(q.numpy(), _q_numpy(z32, mu32, 1.0), atol=1e-6)


def test_the_gradient_at_a_centre_is_finite_and_checks():
    # a row on a centre: zero distance, where a square root's derivative is infinite
    mu = torch.tensor([[0.0, 0.0], [3.0, 1.0]], dtype=torch.float64, requires_grad=True)
    z = torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: soft_assignment(a, b), (z, mu))
    soft_assignment(z, mu)[:, 0].sum().backward()
    assert torch.isfinite(z.grad).all() and torch.isfinite(mu.grad).all()


def test_an_alpha_the_dtype_cannot_hold_is_refused():
    # finite, but (alpha + 1) / 2 times sq / alpha was inf * 0 in float32: NaN
    z, mu = torch.zeros(2, 2), torch.ones(2, 2)
    with pytest.raises(ValueError, match="alpha: expected a value torch.float32 can hold"):
        soft_assignment(z, mu, alpha=1e39)
    assert torch.isfinite(soft_assignment(z.double(), mu.double(), alpha=1e39)).all()


def test_dec_loss_refuses_what_is_no_distribution_by_name():
    q = torch.full((2, 2), 0.5)
    with pytest.raises(ValueError, match="q: expected a torch.Tensor, got ndarray"):
        dec_loss(q.numpy(), q)
    with pytest.raises(ValueError, match=r"with n >= 1, got \(0, 3\)"):
        dec_loss(torch.zeros(0, 3), torch.zeros(0, 3))
    with pytest.raises(ValueError, match="p: expected finite non-negative target"):
        dec_loss(q, torch.tensor([[1.5, -0.5], [0.5, 0.5]]))


def test_gradient_far_from_the_origin_against_float64():
    # The shift is detached: the gradient must still be the distances' own.
    rng = np.random.default_rng(1)
    mu, z = rng.normal(size=(3, 4)) + 500.0, rng.normal(size=(6, 4)) + 500.0
    w = torch.tensor(rng.normal(size=(6, 3)))
    grads = []
    for dtype in (torch.float32, torch.float64):
        zt = torch.tensor(z, dtype=dtype, requires_grad=True)
        mt = torch.tensor(mu, dtype=dtype, requires_grad=True)
        (soft_assignment(zt, mt) * w.to(dtype)).sum().backward()
        grads.append((zt.grad.double().numpy(), mt.grad.double().numpy()))
    for g32, g64 in zip(*grads):
        np.testing.assert_allclose(g32, g64, atol=1e-5)


def test_gradcheck_float64():
    torch.manual_seed(0)
    z = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    mu = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: soft_assignment(a, b, alpha=2.0), (z, mu))
    p = target_distribution(soft_assignment(z, mu))
    assert torch.autograd.gradcheck(lambda a, b: dec_loss(soft_assignment(a, b), p), (z, mu))


def test_clustering_layer_uses_its_alpha():
    # by hand: |z - mu|^2 = 1 and 4; alpha 2 gives (1 + d / 2) ** -1.5 = 1.5 ** -1.5, 3 ** -1.5
    layer = ClusteringLayer(2, 2, alpha=2.0).double()
    layer.init_centers([[1.0, 0.0], [2.0, 0.0]])
    q = layer(torch.zeros(1, 2, dtype=torch.float64)).detach().numpy()
    w = np.array([1.5**-1.5, 3.0**-1.5])
    np.testing.assert_allclose(q, [w / w.sum()], rtol=1e-12)  # alpha 1 gives 5/7, 2/7
    assert "alpha=2.0" in repr(layer)


def test_clustering_layer(monkeypatch):
    layer = ClusteringLayer(2, 2, alpha=1.0).double()
    layer.init_centers(MU)
    q = layer(torch.tensor(Z))
    np.testing.assert_allclose(q.detach().numpy(), _q_numpy(Z, MU, 1.0), rtol=1e-10)
    assert [n for n, _ in layer.named_parameters()] == ["centers"]
    # One gradient step on KL(P||Q) moves the centres (they are trained).
    loss = dec_loss(q, target_distribution(q))
    loss.backward()
    assert layer.centers.grad is not None and layer.centers.grad.abs().sum() > 0

    # Centres taken from another layer (a Parameter) are copied as they are, and the copy
    # is not tied to them. Tensors refuse numpy here, as a CUDA tensor does (they went
    # through np.asarray, which raised for a GPU layer's centres).
    def no_numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy")

    monkeypatch.setattr(torch.Tensor, "__array__", no_numpy)
    other = ClusteringLayer(2, 2, alpha=1.0).double()
    other.init_centers(layer.centers)
    torch.testing.assert_close(other.centers, layer.centers, rtol=0, atol=0)
    with torch.no_grad():
        layer.centers.add_(1.0)
    assert not torch.equal(other.centers, layer.centers)


def test_label_change_tolerance():
    a = np.array([0, 1, 1, 2, 2, 2, 0, 0, 1, 1])
    b = a.copy()
    b[0] = 1
    assert label_change_fraction(a, b) == pytest.approx(0.1)
    assert label_change_fraction(torch.tensor(a), torch.tensor(a)) == 0.0
    assert has_converged(a, b, tol=0.11)
    assert not has_converged(a, b, tol=0.1)  # strict: < tol, as in DEC
    assert not has_converged(None, b)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: soft_assignment(torch.zeros(3, 2), torch.zeros(2, 3)), "z, centers"),
        (lambda: soft_assignment(torch.zeros(3, 2), torch.zeros(2, 2), alpha=0), "alpha"),
        (lambda: target_distribution(torch.zeros(3)), "q: expected"),
        (
            lambda: soft_assignment(torch.zeros(3, 2), torch.zeros(2, 2, dtype=torch.float64)),
            r"centers: expected the dtype of z \(torch.float32\), got torch.float64",
        ),
        (
            lambda: soft_assignment(np.zeros((3, 2)), torch.zeros(2, 2)),
            "z: expected a torch.Tensor, got ndarray",
        ),
        (
            lambda: soft_assignment(torch.zeros(3, 2), np.zeros((2, 2))),
            "centers: expected a torch.Tensor, got ndarray",
        ),
        (
            lambda: target_distribution(torch.tensor([[-1.0, 2.0], [0.5, 0.5]])),
            "q: expected finite non-negative",
        ),
        (lambda: target_distribution(torch.zeros(2, 2)), "q: expected every row to have"),
        (lambda: dec_loss(torch.ones(2, 2), torch.ones(2, 3)), "q, p"),
        (lambda: ClusteringLayer(0, 2), "n_clusters"),
        (lambda: ClusteringLayer(2, 2).init_centers(np.zeros((3, 2))), "centers: expected shape"),
        (lambda: ClusteringLayer(1, 1).init_centers(np.array([[np.nan]])), "finite"),
        (lambda: label_change_fraction([0, 1], [0, 1, 1]), "previous, current"),
        (lambda: label_change_fraction([], []), "empty"),
        (lambda: has_converged([0], [0], tol=2.0), "tol"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_underflowed_soft_assignments_give_a_finite_target_and_loss():
    # A large alpha makes the kernel nearly Gaussian: in float32 the far centre's q
    # underflows to exactly 0 for both points, so its column sum f_1 is 0.
    z = torch.tensor([[0.0, 0.0], [0.1, 0.0]])
    mu = torch.tensor([[0.0, 0.0], [1e3, 0.0]], requires_grad=True)
    q = soft_assignment(z, mu, alpha=50.0)
    assert (q[:, 1] == 0).all()
    p = target_distribution(q)
    # p_i1 = lim q^2 / f = 0; every row is the one-hot of cluster 0.
    torch.testing.assert_close(p, torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    loss = dec_loss(q, p)
    # KL(P || Q) with P = Q here: 0, and 0 log 0 = 0 also against q = 0.
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(mu.grad).all()
    # Hand case: p_ij = 0 against q_ij = 0 contributes nothing.
    q2 = torch.tensor([[1.0, 0.0], [0.25, 0.75]], dtype=torch.float64, requires_grad=True)
    p2 = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    expected = (0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75)) / 2
    out = dec_loss(q2, p2)
    assert out.item() == pytest.approx(expected, rel=1e-12)
    out.backward()
    assert torch.isfinite(q2.grad).all()


def test_numpy_scalars_are_numbers_and_integer_tensors_are_named():
    z, mu = torch.tensor(Z), torch.tensor(MU)
    q = soft_assignment(z, mu, alpha=np.float32(1.0))  # was refused: "expected a float"
    torch.testing.assert_close(q, soft_assignment(z, mu, alpha=1.0))
    assert has_converged(np.array([0, 1]), np.array([0, 1]), tol=np.float64(0.5))
    with pytest.raises(ValueError, match="z: expected a floating-point tensor, got dtype"):
        soft_assignment(z.long(), mu)  # torch's "mean(): could not infer output dtype"
    with pytest.raises(ValueError, match="alpha: expected a positive float"):
        soft_assignment(z, mu, alpha=float("inf"))


def test_no_centres_are_named():
    # rows of q summing to 0 went on to target_distribution, which blamed q
    with pytest.raises(ValueError, match=r"^centers: expected at least one centre"):
        soft_assignment(torch.zeros(3, 2), torch.zeros(0, 2))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_soft_assignment_in_half_precision_is_the_float32_one_rounded(dtype):
    """torch has no CPU cdist for float16 / bfloat16 (a bare NotImplementedError): the
    assignment is computed in float32 and returned in the input's dtype."""
    g = torch.Generator().manual_seed(0)
    z, c = torch.randn(10, 3, generator=g).to(dtype), torch.randn(4, 3, generator=g).to(dtype)
    q = soft_assignment(z, c)
    assert q.dtype == dtype
    expected = soft_assignment(z.float(), c.float()).to(dtype)
    torch.testing.assert_close(q, expected, rtol=0, atol=0)


def test_soft_assignment_in_half_precision_takes_alphas_float32_holds():
    """Computed in float32, so alpha is bounded by float32's range, not float16's: 40,000
    was refused as a value "float16 cannot hold with alpha + 1"."""
    g = torch.Generator().manual_seed(0)
    z, c = torch.randn(6, 3, generator=g), torch.randn(2, 3, generator=g)
    q = soft_assignment(z.half(), c.half(), alpha=40000.0)
    expected = soft_assignment(z.half().float(), c.half().float(), alpha=40000.0).half()
    torch.testing.assert_close(q, expected, rtol=0, atol=0)


def test_has_converged_takes_tol_zero_and_defaults_to_a_tenth_of_a_percent():
    # tol in [0, 1]; the default is the papers' 0.1 %
    a = np.zeros(1000, dtype=np.int64)
    assert not has_converged(a, a, tol=0)  # 0 < 0 is false: never converged, no error
    b = a.copy()
    b[:5] = 1  # 0.5 % changed
    assert not has_converged(a, b)
    assert has_converged(a, b, tol=0.006)
    b[1:5] = 0  # 0.1 %: not below 0.1 %
    assert not has_converged(a, b)
    assert has_converged(a, a)
