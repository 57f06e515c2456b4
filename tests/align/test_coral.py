"""CORAL and log-Euclidean CORAL against independent formulas (NumPy, SciPy, pytorch-adapt)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch

import dtc.align
from dtc.align.coral import CORALLoss, LogCORALLoss, covariance, log_coral, sym_logm


def _pair(n_s=12, n_t=9, d=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    source = torch.randn(n_s, d, generator=g, dtype=dtype)
    target = (
        1.5
        * torch.randn(n_t, d, generator=g, dtype=dtype)
        @ torch.randn(d, d, generator=g, dtype=dtype)
    )
    return source, target


def _numpy_coral(xs, xt):
    d = xs.shape[1]
    return np.sum((np.cov(xs, rowvar=False) - np.cov(xt, rowvar=False)) ** 2) / (4 * d * d)


def _numpy_log_coral(xs, xt, eps):
    d = xs.shape[1]
    ls = scipy.linalg.logm(np.cov(xs, rowvar=False) + eps * np.eye(d)).real
    lt = scipy.linalg.logm(np.cov(xt, rowvar=False) + eps * np.eye(d)).real
    return np.sum((ls - lt) ** 2) / (4 * d * d)


def test_covariance_matches_numpy_unbiased():
    x, _ = _pair()
    np.testing.assert_allclose(covariance(x).numpy(), np.cov(x.numpy(), rowvar=False), atol=1e-12)


def test_coral_matches_numpy_formula_and_module():
    source, target = _pair()
    expected = _numpy_coral(source.numpy(), target.numpy())
    assert dtc.align.coral(source, target).item() == pytest.approx(expected, rel=1e-10)
    assert CORALLoss()(source, target).item() == pytest.approx(expected, rel=1e-10)


def test_coral_matches_pytorch_adapt(pa_layers):
    layers = pa_layers
    source, target = _pair(dtype=torch.float32)
    ours = dtc.align.coral(source, target)
    theirs = layers.CORALLoss()(source, target)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


def test_log_coral_matches_scipy_logm():
    source, target = _pair()
    expected = _numpy_log_coral(source.numpy(), target.numpy(), 1e-3)
    assert log_coral(source, target, eps=1e-3).item() == pytest.approx(expected, rel=1e-8)
    assert LogCORALLoss(eps=1e-3)(source, target).item() == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_log_coral_accepts_half_precision_features(dtype):
    # eigh has no half-precision kernel: this was torch's NotImplementedError.
    source, target = _pair()
    source, target = source.to(dtype), target.to(dtype)
    expected = _numpy_log_coral(source.double().numpy(), target.double().numpy(), 1e-2)
    s = source.clone().requires_grad_(True)
    for value in (log_coral(s, target, eps=1e-2), LogCORALLoss(eps=1e-2)(s, target)):
        assert value.dtype == dtype
        assert value.item() == pytest.approx(expected, rel=1e-2)
    (grad,) = torch.autograd.grad(log_coral(s, target, eps=1e-2), s)
    assert grad.dtype == dtype and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_sym_logm_matches_scipy_on_repeated_eigenvalues():
    # n < d: rank-deficient covariance, so the null directions all share eigenvalue eps.
    x = torch.randn(3, 6, dtype=torch.float64)
    a = covariance(x) + 1e-2 * torch.eye(6, dtype=torch.float64)
    np.testing.assert_allclose(sym_logm(a).numpy(), scipy.linalg.logm(a.numpy()).real, atol=1e-10)


@pytest.mark.parametrize("fn", [dtc.align.coral, log_coral], ids=["coral", "log_coral"])
def test_floor_symmetry_and_order_invariance(fn):
    source, target = _pair()
    assert fn(source, source.clone()).item() == pytest.approx(0.0, abs=1e-12)
    assert fn(source, target).item() == pytest.approx(fn(target, source).item(), rel=1e-12)
    perm = torch.randperm(target.shape[0])
    assert fn(source, target[perm]).item() == pytest.approx(fn(source, target).item(), rel=1e-10)


@pytest.mark.parametrize("fn", [dtc.align.coral, log_coral], ids=["coral", "log_coral"])
def test_grows_with_covariance_gap_and_ignores_mean_shift(fn):
    # CORAL sees second-order statistics only: a mean shift leaves it at its floor,
    # a growing scale mismatch increases it.
    source, _ = _pair(n_s=40)
    assert fn(source, source + 3.0).item() == pytest.approx(0.0, abs=1e-10)
    values = [fn(source, scale * source).item() for scale in (1.0, 1.5, 2.0, 3.0)]
    assert values[0] == pytest.approx(0.0, abs=1e-12)
    assert all(a < b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize(
    "fn",
    [dtc.align.coral, lambda s, t: log_coral(s, t, eps=0.1)],
    ids=["coral", "log_coral"],
)
@pytest.mark.parametrize("n_s", [7, 3], ids=["full_rank", "rank_deficient"])
def test_gradcheck(fn, n_s):
    source, target = _pair(n_s=n_s, n_t=5, d=4)
    source.requires_grad_(True)
    target.requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (source, target))


def test_log_coral_refuses_second_derivatives_instead_of_wrong_ones():
    # The matrix logarithm's backward uses eigenvectors saved outside the graph: its own
    # derivative would silently miss the terms through them (gradgradcheck fails), so a
    # double backward must raise. First derivatives under create_graph=True still work.
    source, target = _pair(n_s=6, n_t=5, d=3)
    source.requires_grad_(True)
    (grad,) = torch.autograd.grad(log_coral(source, target), source, create_graph=True)
    (plain,) = torch.autograd.grad(log_coral(source, target), source)
    torch.testing.assert_close(grad, plain)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        grad.square().sum().backward()


def test_log_coral_gradient_is_finite_on_identical_rank_deficient_inputs():
    # torch.linalg.eigh's own backward gives NaN here (repeated eigenvalues).
    source = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    log_coral(source, source.detach().clone()).backward()
    assert torch.isfinite(source.grad).all()
    assert source.grad.abs().max().item() == pytest.approx(0.0, abs=1e-8)


def _frechet_logm(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    # logm([[A, E], [0, A]]) = [[logm(A), L(A, E)], [0, logm(A)]] (Higham, "Functions of
    # Matrices", SIAM 2008, Thm. 3.6): the Frechet derivative without any eigenvalue formula.
    d = a.shape[0]
    block = np.block([[a, e], [np.zeros_like(a), a]])
    return scipy.linalg.logm(block).real[:d, d:]


@pytest.mark.parametrize(
    ("dtype", "rtol"),
    # float32 eigh resolves 1e-3 next to 100 to about 1e-4 relative; the gradient to 2e-3.
    # A tolerance-based tie test (0.02 and 0.001 as equal) is off by 4e-2 here.
    [(torch.float64, 1e-9), (torch.float32, 1e-2)],
    ids=["float64", "float32"],
)
def test_sym_logm_gradient_matches_scipy_frechet_derivative(dtype, rtol):
    # For symmetric A, the gradient of <G, logm(A)> is the Frechet derivative L(A, G).
    q = scipy.stats.ortho_group.rvs(3, random_state=0)
    a = q @ np.diag([100.0, 0.02, 0.001]) @ q.T
    a = 0.5 * (a + a.T)
    g = np.random.default_rng(0).standard_normal((3, 3))
    expected = _frechet_logm(a, g)
    at = torch.tensor(a, dtype=dtype, requires_grad=True)
    (sym_logm(at) * torch.tensor(g, dtype=dtype)).sum().backward()
    error = np.abs(at.grad.double().numpy() - expected).max() / np.abs(expected).max()
    assert error < rtol


def _wide_spectrum_pair(n=24, d=32, high=10.0, low=1e-3, seed=0):
    # n < d: rank-deficient covariances whose eigenvalues span 4 decades (plus the
    # null directions at eps), source and target with the spectrum in opposite order.
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    scale = torch.logspace(np.log10(high), np.log10(low), d, dtype=torch.float64).sqrt()
    source = torch.randn(n, d, generator=g, dtype=torch.float64) * scale @ q.T
    target = torch.randn(n, d, generator=g, dtype=torch.float64) * scale.flip(0) @ q.T
    return source, target


def test_log_coral_float32_gradient_matches_float64_on_a_wide_spectrum():
    # The float64 gradient (gradcheck-verified) is the reference. float32 reaches 1e-3,
    # the accuracy of float32 eigh here; treating eigenvalues within sqrt(eps) * max
    # as ties gave 3.6e-2.
    source, target = _wide_spectrum_pair()
    grads = {}
    for dtype in (torch.float64, torch.float32):
        s = source.to(dtype).requires_grad_(True)
        t = target.to(dtype).requires_grad_(True)
        grads[dtype] = torch.cat(
            [g.reshape(-1) for g in torch.autograd.grad(log_coral(s, t), (s, t))]
        )
    reference = grads[torch.float64]
    error = (grads[torch.float32].double() - reference).norm() / reference.norm()
    assert error < 5e-3


def test_registered_names():
    assert isinstance(dtc.align.get("coral"), CORALLoss)
    loss = dtc.align.get("log_coral", eps=0.5)
    assert isinstance(loss, LogCORALLoss)
    assert loss.eps == 0.5


@pytest.mark.parametrize("fn", [dtc.align.coral, log_coral, CORALLoss(), LogCORALLoss()])
def test_bad_inputs(fn):
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="expected the same feature dimension"):
        fn(x, torch.randn(5, 4))
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="target contains NaN"):
        fn(x, bad)
    with pytest.raises(ValueError, match="expected at least 2"):
        fn(x[:1], x)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        fn(x[0], x)


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (dtc.align.coral, "coral"),
        (log_coral, "log_coral"),
        (CORALLoss(), "CORALLoss"),
        (LogCORALLoss(), "LogCORALLoss"),
    ],
)
def test_a_covariance_that_overflows_is_named(fn, name):
    # finite features whose covariance overflows: coral gave NaN / Inf, log_coral an
    # unexplained LinAlgError from eigh. log-CORAL works in float64, so it takes float64
    # features past float64's range.
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    huge = 1e30
    if "log" in name.lower():
        x, huge = x.double(), 1e160
    with pytest.raises(ValueError, match=f"{name}: the covariance of source is not finite"):
        fn(x * huge, x)
    with pytest.raises(ValueError, match=f"{name}: the covariance of target is not finite"):
        fn(x, x * huge)
    if name in ("coral", "CORALLoss"):
        # finite covariances (~1e36) whose difference squares past float32
        with pytest.raises(ValueError, match=f"{name}: the loss overflows torch.float32"):
            fn(x * 1e18, x)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_coral_of_half_precision_features_is_computed_past_their_sums(dtype):
    # d = 64, std 5: the loss (~11.5) fits float16, but ||C_s - C_t||_F^2 (~2e5), summed
    # before the division by 4 d^2, did not, and CORAL refused the batch as overflowing.
    g = torch.Generator().manual_seed(0)
    source = (5 * torch.randn(32, 64, generator=g)).to(dtype)
    target = (5 * torch.randn(24, 64, generator=g)).to(dtype)
    expected = _numpy_coral(source.double().numpy(), target.double().numpy())
    s = source.clone().requires_grad_(True)
    for value in (dtc.align.coral(s, target), CORALLoss()(s, target)):
        assert value.dtype == dtype
        assert value.item() == pytest.approx(expected, rel=1e-2)
        (grad,) = torch.autograd.grad(value, s)
        assert grad.dtype == dtype and torch.isfinite(grad).all() and grad.abs().sum() > 0
    if dtype == torch.float16:
        # a loss past float16's range (std 50: ~1e5) is still refused, not returned as inf
        with pytest.raises(ValueError, match="CORALLoss: the loss overflows torch.float16"):
            CORALLoss()(10 * source, 10 * target)


@pytest.mark.parametrize(("n", "d"), [(16, 64), (64, 128)])
def test_log_coral_of_float32_features_is_float64_log_coral(n, d):
    # float32 round-off of a covariance with std-100 features (~1e-7 |C| = 1e-3) reaches
    # eps: the null directions of a batch with n <= d came out of eigh below eps or below 0,
    # clamped to float32's tiny. The loss was 13.3 for 0.42, the gradient 2e31 for 2e-5.
    g = torch.Generator().manual_seed(0)
    s = torch.randn(n, d, generator=g) * 100
    t = torch.randn(n, d, generator=g) * 110
    values, grads = [], []
    for dtype in (torch.float32, torch.float64):
        x = s.to(dtype).clone().requires_grad_()
        value = LogCORALLoss()(x, t.to(dtype))
        value.backward()
        assert value.dtype == dtype
        values.append(float(value.detach()))
        grads.append(x.grad.double())
    assert values[0] == pytest.approx(values[1], rel=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-12)


def test_sym_logm_raises_eigenvalues_below_the_floor():
    # diag(1e-9, 2) with floor 1e-3: log of diag(1e-3, 2), by hand
    a = torch.diag(torch.tensor([1e-9, 2.0], dtype=torch.float64))
    expected = torch.diag(torch.log(torch.tensor([1e-3, 2.0], dtype=torch.float64)))
    torch.testing.assert_close(sym_logm(a, floor=1e-3), expected)
    torch.testing.assert_close(sym_logm(a), torch.diag(torch.log(torch.diag(a))))
    # and to the dtype's smallest normal number at least: a zero eigenvalue, or one that
    # round-off put just below 0, has the log of that number (-708.4), not -inf or NaN
    for low in (0.0, -1e-20):
        for dtype in (torch.float32, torch.float64):
            a = torch.diag(torch.tensor([low, 2.0], dtype=dtype))
            tiny = torch.finfo(dtype).tiny
            expected = torch.diag(torch.log(torch.tensor([tiny, 2.0], dtype=dtype)))
            torch.testing.assert_close(sym_logm(a), expected)


@pytest.mark.parametrize("eps", [0.0, -1.0, float("nan"), float("inf"), True, "1"])
def test_bad_eps(eps):
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="eps must be a positive number"):
        log_coral(x, x, eps=eps)
    with pytest.raises(ValueError, match="eps must be a positive number"):
        LogCORALLoss(eps=eps)


def test_eps_may_be_a_numpy_scalar():
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    assert LogCORALLoss(eps=np.float32(1e-3)).eps == pytest.approx(1e-3)
    assert float(log_coral(x, 2 * x, eps=np.float64(1e-3))) > 0


@pytest.mark.parametrize(
    ("a", "match"),
    [
        # eigh reads one triangle: this had the log of the identity, 0
        (torch.tensor([[1.0, 2.0], [0.0, 1.0]]), r"^sym_logm: a must be symmetric"),
        # clamped to the smallest normal: -708 I without a word
        (-torch.eye(2, dtype=torch.float64), r"^sym_logm: a must be positive definite"),
        (torch.ones(2, 3), r"^sym_logm: a must be a floating tensor of shape \(d, d\)"),
        (torch.eye(2, dtype=torch.int64), r"^sym_logm: a must be a floating tensor"),
        (torch.tensor([[1.0, float("nan")], [float("nan"), 1.0]]), r"NaN or infinite"),
    ],
)
def test_sym_logm_refuses_what_has_no_symmetric_logarithm(a, match):
    with pytest.raises(ValueError, match=match):
        sym_logm(a)


def test_sym_logm_takes_a_product_whose_triangles_differ_by_round_off():
    # X^T X in float32 need not be bitwise symmetric; scipy's logm is the reference
    from scipy.linalg import logm

    x = torch.randn(50, 7, generator=torch.Generator().manual_seed(0))
    a = x.T @ x / 49 + 1e-3 * torch.eye(7)
    np.testing.assert_allclose(sym_logm(a).numpy(), logm(a.double().numpy()).real, atol=1e-4)


def test_covariance_of_one_row_is_refused():
    with pytest.raises(ValueError, match=r"^covariance: x must have shape \(n, d\) with n >= 2"):
        covariance(torch.ones(1, 3))  # 0 / 0: a NaN matrix


@pytest.mark.parametrize("base", [3.0, 37.0])
@pytest.mark.parametrize("h", [1e-3, 1e-4, 1e-5])
def test_log_divided_differences_of_close_float32_eigenvalues(base, h):
    # hi <= 2 lo takes log1p((hi - lo) / lo) / (hi - lo): the difference of the float32
    # logarithms cancels (relative error 1e-3 at h = 1e-4). Reference: the same form in
    # float64 of the two float32 values, exact to float64's precision there.
    from dtc.align.coral import _log_divided_differences

    e = torch.tensor([base, base * (1 + h)], dtype=torch.float32)
    lo, hi = (float(v) for v in e)
    exact = math.log1p((hi - lo) / lo) / (hi - lo)
    K = _log_divided_differences(e, e.log())
    assert K[0, 1].item() == pytest.approx(exact, rel=1e-6)
    assert K[1, 0].item() == pytest.approx(exact, rel=1e-6)
