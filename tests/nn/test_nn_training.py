"""Train-loop utilities of dtc.nn.training, checked against independent references."""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import pytest
import torch
from torch import nn

from dtc.nn import (
    Autoencoder,
    deterministic,
    load_checkpoint,
    make_generator,
    minibatches,
    pretrain_autoencoder,
    save_checkpoint,
)
from dtc.nn.training import check_finite, corrupt


def test_minibatches_cover_every_index_once_and_merge_singletons():
    batches = list(minibatches(11, 5, make_generator(0)))
    assert [len(b) for b in batches] == [5, 6]  # the lone 11th sample joins the last batch
    assert sorted(torch.cat(batches).tolist()) == list(range(11))
    again = list(minibatches(11, 5, make_generator(0)))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))


def test_deterministic_restores_the_callers_random_state():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with deterministic(7):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)  # the context left no trace
    with deterministic(7):
        assert torch.equal(torch.rand(3), inside)
    assert not torch.are_deterministic_algorithms_enabled()


def test_checkpoint_round_trip_and_weights_only(tmp_path):
    state = {"w": torch.arange(4.0), "history": [{"stage": "pretrain", "epoch": 0, "recon": 0.5}]}
    save_checkpoint(tmp_path / "a" / "ckpt.pt", state)
    back = load_checkpoint(tmp_path / "a" / "ckpt.pt")
    assert torch.equal(back["w"], state["w"]) and back["history"] == state["history"]
    torch.save({"obj": nn.Linear(2, 2)}, tmp_path / "pickled.pt")  # arbitrary pickled code
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_checkpoint(tmp_path / "pickled.pt")


def test_two_writers_of_one_checkpoint_do_not_collide(tmp_path):
    # both wrote "<name>.tmp": one moved the other's file away mid-write
    # (FileNotFoundError), as two rows of a --jobs 2 sweep sharing a pretraining could
    import threading

    path = tmp_path / "shared.pt"
    errors = []

    def write(value):
        try:
            for _ in range(20):
                save_checkpoint(path, {"w": torch.full((1000,), float(value))})
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(v,)) for v in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert float(load_checkpoint(path)["w"][0]) in (1.0, 2.0)
    assert [p.name for p in tmp_path.iterdir()] == ["shared.pt"]  # no temporary left


def test_a_checkpoint_has_the_umasks_permissions(tmp_path):
    # tempfile made it private to its writer (-rw-------): a checkpoint folder shared by a
    # group could not be resumed by the others, unlike the reference cache beside it
    previous = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "c.pt", {"w": torch.zeros(2)})
    finally:
        os.umask(previous)
    assert (tmp_path / "c.pt").stat().st_mode & 0o777 == 0o644


def test_corrupt_mask_fraction():
    x = torch.ones(200, 50)
    out = corrupt(x, noise=0.0, mask=0.3, generator=make_generator(0))
    assert abs(float((out == 0).float().mean()) - 0.3) < 0.02


def test_corrupt_keeps_the_batchs_dtype_under_another_default():
    # the noise was drawn in the default dtype: under float64, a float32 batch became
    # float64 and the float32 network refused it
    x = torch.ones(5, 3)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        out = corrupt(x, noise=0.1, mask=0.3, generator=make_generator(0))
    finally:
        torch.set_default_dtype(previous)
    assert out.dtype == torch.float32
    # the same draws, noise and mask, as under the float32 default
    assert torch.equal(out, corrupt(x, noise=0.1, mask=0.3, generator=make_generator(0)))


def test_a_checkpoint_unreadable_in_any_words_is_computed_again(tmp_path):
    # a file that is no zip went down torch's legacy reader, which failed in its own words
    # (KeyError on b"hello", IndexError on a flipped first bit), and the fit with it
    from dtc.nn.training import read_checkpoint, save_checkpoint

    path = tmp_path / "stage.pt"
    path.write_bytes(b"hello")
    with pytest.warns(RuntimeWarning, match="cannot be read"):
        assert read_checkpoint(path) is None
    save_checkpoint(path, {"x": torch.ones(2)})
    raw = bytearray(path.read_bytes())
    raw[0] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match="cannot be read"):
        assert read_checkpoint(path) is None
    # the caller's own errors are theirs: raised, the file kept
    save_checkpoint(path, {"x": torch.ones(2)})
    with pytest.raises(TypeError, match="read_checkpoint: map_location must be None"):
        read_checkpoint(path, map_location=5)
    with pytest.raises(ZeroDivisionError):
        read_checkpoint(path, map_location=lambda storage, location: 1 / 0)
    assert torch.equal(read_checkpoint(path, map_location=lambda s, loc: s)["x"], torch.ones(2))


def test_corrupt_adds_noise_of_the_stated_std_then_masks_exact_zeros():
    """The denoising corruption (Vincent et al., ICML 2008) against its closed form: on
    ``x = 2`` everywhere with ``noise = 0.5`` and ``mask = 0.25``, an entry is exactly 0
    with probability 0.25 (the mask is applied after the noise, so a masked entry gets no
    noise back) and is otherwise ``N(2, 0.5^2)``. 40 000 entries: the share of zeros, and
    the mean and std of the others, within 4 standard errors; no noise, no mask: ``x``."""
    x = torch.full((400, 100), 2.0, dtype=torch.float64)
    out = corrupt(x, noise=0.5, mask=0.25, generator=make_generator(0))
    zero = (out == 0).numpy()
    n = zero.size
    assert abs(zero.mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)
    kept = out.numpy()[~zero]
    assert abs(kept.mean() - 2.0) < 4 * 0.5 / np.sqrt(kept.size)
    assert abs(kept.std() - 0.5) < 4 * 0.5 / np.sqrt(2 * kept.size)
    assert torch.equal(corrupt(x, noise=0.0, mask=0.0, generator=make_generator(0)), x)


def test_linear_autoencoder_reaches_the_pca_reconstruction_error():
    # A linear autoencoder's optimum is the PCA subspace (Baldi & Hornik, 1989); PCA's
    # error computed by SVD is the independent reference.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) @ rng.normal(size=(3, 10)) + 0.1 * rng.normal(size=(300, 10))
    X = (X - X.mean(0)).astype(np.float32)
    _, s, _ = np.linalg.svd(X, full_matrices=False)
    pca_mse = float((s[2:] ** 2).sum() / X.size)
    with deterministic(0):
        ae = Autoencoder(nn.Linear(10, 2), 10, nn.Linear(2, 10))
        hist = pretrain_autoencoder(ae, X, epochs=150, batch_size=64, lr=1e-2, seed=0)
        with torch.no_grad():
            mse = float(((ae(torch.from_numpy(X))[1] - torch.from_numpy(X)) ** 2).mean())
    assert hist[-1]["recon"] < hist[0]["recon"]
    assert pca_mse * 0.999 <= mse <= pca_mse * 1.05


def test_supervised_head_learns_separable_labels():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 40)
    X = (rng.normal(size=(120, 6)) + 3 * np.eye(3, 6)[y]).astype(np.float32)
    with deterministic(0):
        ae = Autoencoder(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4)), 6)
        head = nn.Linear(4, 3)
        y_partial = y.copy()
        y_partial[::4] = -1  # unlabelled rows are ignored by the cross-entropy
        hist = pretrain_autoencoder(
            ae, X, epochs=60, batch_size=32, lr=1e-2, y=y_partial, head=head
        )
        with torch.no_grad():
            pred = head(ae.encode(torch.from_numpy(X))).argmax(1).numpy()
    assert "sup" in hist[-1] and hist[-1]["sup"] < hist[0]["sup"]
    assert (pred == y).mean() > 0.95


def test_pretraining_is_reproducible_for_a_seed():
    X = np.random.default_rng(2).normal(size=(50, 5)).astype(np.float32)

    def run():
        with deterministic(3):
            ae = Autoencoder(nn.Linear(5, 2), 5, nn.Linear(2, 5))
            pretrain_autoencoder(ae, X, epochs=3, batch_size=16, noise=0.1, seed=3)
        return torch.cat([p.detach().flatten() for p in ae.parameters()])

    assert torch.equal(run(), run())


def test_nan_loss_names_stage_and_epoch():
    enc = nn.Linear(4, 2)
    with torch.no_grad():
        enc.weight.fill_(float("nan"))
    ae = Autoencoder(enc, 4, nn.Linear(2, 4))
    with pytest.raises(FloatingPointError, match="pretrain: .*epoch 0"):
        pretrain_autoencoder(ae, np.ones((8, 4), np.float32), epochs=2, batch_size=4)


def test_a_last_step_that_diverges_names_stage_and_epoch():
    # the loss is checked before each step: a diverged last step returned a broken network
    # (a finite history), and K-means of its embedding blamed its input, "X: expected finite"
    torch.manual_seed(0)
    # two layers: weights of ~1e20 after one step give an embedding of ~1e40, past float32
    ae = Autoencoder(nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 2)), 5, nn.Linear(2, 5))
    X = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    with pytest.raises(FloatingPointError, match="pretrain: the training diverged .* epoch 0"):
        pretrain_autoencoder(ae, X, epochs=1, batch_size=100, lr=1e20)


def test_the_last_check_draws_no_random_numbers():
    # the embedding check after the last epoch ran a module that samples in every mode: its
    # draws moved the fit's later ones (DTC's labels changed with a noisy encoder)
    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(5, 2)

        def forward(self, x):
            h = self.lin(x)
            return h + 0.01 * torch.randn_like(h)

    ae = Autoencoder(Noisy(), 5, nn.Linear(2, 5))
    X = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    states = []
    pretrain_autoencoder(
        ae, X, epochs=2, on_epoch_end=lambda e, logs: states.append(torch.get_rng_state())
    )
    assert torch.equal(torch.get_rng_state(), states[-1])


def test_bad_arguments_raise_value_error():
    ae = Autoencoder(nn.Linear(4, 2), 4, nn.Linear(2, 4))
    X = np.ones((8, 4), np.float32)
    for lr in (0, float("nan"), float("inf")):  # NaN passed and trained NaN weights
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            pretrain_autoencoder(ae, X, epochs=1, lr=lr)
    # a seed of 2.5 was taken for 2; epochs / batch_size of 2.5 failed in range(), unnamed
    for name, value in (("seed", 2.5), ("epochs", 2.5), ("batch_size", 2.5), ("batch_size", 0)):
        with pytest.raises(ValueError, match=f"pretrain: {name} must be an int >= "):
            pretrain_autoencoder(ae, X, **{"epochs": 1, name: value})
    with pytest.raises(ValueError, match="pretrain: lr and weight_decay must be numbers"):
        pretrain_autoencoder(ae, X, epochs=1, lr="1e-3")
    head = nn.Linear(2, 2)  # -1 is unlabelled; -2 was read as unlabelled too, unsaid
    with pytest.raises(ValueError, match=r"pretrain: y must hold class labels >= 0 or -1"):
        pretrain_autoencoder(ae, X, epochs=1, y=np.r_[np.zeros(7, int), -2], head=head)
    for wd in (-1.0, float("nan"), float("inf")):  # Adam took inf: NaN weights, no error
        with pytest.raises(ValueError, match="pretrain: weight_decay must be a finite number"):
            pretrain_autoencoder(ae, X, epochs=1, weight_decay=wd)
    with pytest.raises(ValueError, match="head"):
        pretrain_autoencoder(ae, X, epochs=1, y=np.zeros(8, int))
    with pytest.raises(ValueError, match="batch_size"):
        list(minibatches(5, 0))


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_epochs_on_a_terminals_stderr_only(monkeypatch, capsys):
    # verbose and stderr a terminal: the bar with each epoch's loss, on stderr; stdout, where
    # `dtc run --json` writes its results, gets nothing. Not a terminal: nothing at all.
    ae = Autoencoder(nn.Linear(4, 2), 4, nn.Linear(2, 4))
    X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    history = pretrain_autoencoder(ae, X, epochs=3, batch_size=8, verbose=1)
    shown = terminal.getvalue()
    assert "pretrain" in shown and f"recon {history[-1]['recon']:.4f}" in shown
    assert capsys.readouterr().out == ""
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    pretrain_autoencoder(ae, X, epochs=1, batch_size=8, verbose=1)
    assert quiet.getvalue() == ""


def test_device_names_are_resolved_or_refused():
    from dtc.nn.training import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None) == resolve_device("auto")
    with pytest.raises(ValueError, match="device: expected 'auto', 'cpu', 'cuda\\[:i\\]'"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="got 3.5"):
        resolve_device(3.5)


def test_bad_epochs_and_label_shape_are_named():
    ae = Autoencoder(nn.Linear(4, 2), 4, nn.Linear(2, 4))
    X = np.ones((8, 4), np.float32)
    with pytest.raises(ValueError, match="pretrain: epochs must be an int >= 0, got -1"):
        pretrain_autoencoder(ae, X, epochs=-1)
    with pytest.raises(ValueError, match=r"pretrain: y must have shape \(8,\), got \(7,\)"):
        pretrain_autoencoder(ae, X, epochs=1, y=np.zeros(7, int), head=nn.Linear(2, 2))


def test_recon_rows_ignore_the_other_rows_and_all_true_is_the_default():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    rows = np.arange(40) % 3 != 0

    def run(X, recon_rows):
        with deterministic(0):
            ae = Autoencoder(nn.Linear(5, 2), 5, nn.Linear(2, 5))
            hist = pretrain_autoencoder(ae, X, epochs=2, batch_size=8, recon_rows=recon_rows)
        return torch.cat([p.detach().flatten() for p in ae.parameters()]), hist

    full, _ = run(X, None)
    assert torch.equal(run(X, np.ones(40, bool))[0], full)
    masked, hist = run(X, rows)
    X2 = X.copy()
    X2[~rows] = 1e3 * rng.normal(size=((~rows).sum(), 5))  # never reconstructed: no effect
    masked2, hist2 = run(X2, rows)
    assert torch.equal(masked, masked2) and not torch.equal(masked, full)
    assert hist == hist2
    ae = Autoencoder(nn.Linear(5, 2), 5, nn.Linear(2, 5))
    with pytest.raises(ValueError, match="recon_rows"):
        pretrain_autoencoder(ae, X, epochs=1, recon_rows=np.zeros(40, bool))
    with pytest.raises(ValueError, match="recon_rows"):
        pretrain_autoencoder(ae, X, epochs=1, recon_rows=np.ones(3, bool))


def test_logged_sup_is_the_mean_cross_entropy_over_the_labelled_rows():
    rng = np.random.default_rng(0)
    X = rng.random((400, 16)).astype(np.float32)
    y = -np.ones(400, dtype=np.int64)
    y[:40] = rng.integers(0, 3, 40)  # 40 labelled rows spread unevenly over the batches
    torch.manual_seed(0)
    ae = Autoencoder(nn.Linear(16, 4), 16, nn.Linear(4, 16))
    head = nn.Linear(4, 3)
    # a vanishing lr: the model does not move during the epoch, so the logged value
    # must equal the cross-entropy of the initial model on the labelled rows
    hist = pretrain_autoencoder(ae, X, y=y, head=head, epochs=1, batch_size=20, lr=1e-12, seed=0)
    with torch.no_grad():
        logits = head(ae.encoder(torch.from_numpy(X[:40])))
        hand = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y[:40])).item()
    assert hist[0]["sup"] == pytest.approx(hand, rel=1e-5)


def test_bad_data_and_labels_are_named_not_blamed_on_the_learning_rate():
    ae = Autoencoder(nn.Linear(4, 2), 4, nn.Linear(2, 4))
    X = np.ones((8, 4), np.float32)
    bad = X.copy()
    bad[0, 0] = np.nan
    # Before: FloatingPointError "the loss diverged ... lower the learning rate".
    with pytest.raises(ValueError, match="pretrain: X: expected finite values"):
        pretrain_autoencoder(ae, bad, epochs=1)
    # Before: torch's "mat1 and mat2 shapes cannot be multiplied".
    with pytest.raises(ValueError, match="pretrain: X has 3 features, the autoencoder expects 4"):
        pretrain_autoencoder(ae, X[:, :3], epochs=1)
    # Before: 0.5 / 1.7 were truncated to 0 / 1 and NaN became an "unlabelled" row.
    head = nn.Linear(2, 2)
    for y in (np.array([0.5, 1.7] * 4), np.array([0.0, np.nan] * 4)):
        with pytest.raises(ValueError, match="pretrain: y must hold integer class labels"):
            pretrain_autoencoder(ae, X, epochs=1, y=y, head=head)
    # Integer-valued floats are labels.
    pretrain_autoencoder(ae, X, epochs=1, y=np.array([0.0, 1.0, -1.0, 1.0] * 2), head=head)


def test_embed_takes_tensors_without_a_numpy_round_trip(monkeypatch):
    # DTC embeds its device tensors (``_Xt``); a CUDA tensor cannot go through numpy
    # ("can't convert cuda:0 device type tensor to numpy"). Without a GPU here, numpy
    # is made unavailable to tensors, and a tensor that requires grad is embedded too.
    from dtc.nn import embed
    from dtc.nn.training import as_tensor

    torch.manual_seed(0)
    enc = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    X = torch.randn(10, 6, dtype=torch.float64, requires_grad=True)
    expected = enc(X.detach().float()).detach().numpy()

    def no_numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy")

    monkeypatch.setattr(torch.Tensor, "__array__", no_numpy)
    np.testing.assert_allclose(embed(enc, X, batch_size=3), expected, rtol=1e-6)
    t = as_tensor(X)
    assert t.dtype == torch.float32 and not t.requires_grad and t.device == X.device


def _identity_autoencoder(d: int) -> Autoencoder:
    """``x -> (x, x)``: identity encoder and decoder, so the reconstruction is the input."""
    enc, dec = nn.Linear(d, d), nn.Linear(d, d)
    with torch.no_grad():
        for layer in (enc, dec):
            layer.weight.copy_(torch.eye(d))
            layer.bias.zero_()
    return Autoencoder(enc, d, dec)


@pytest.mark.parametrize(("noise", "mask", "expected"), [(0.0, 0.3, 0.3), (0.5, 0.0, 0.25)])
def test_denoising_reconstructs_the_clean_input_closed_form(noise, mask, expected):
    """An identity autoencoder returns its corrupted input, so against the *clean* target
    (Vincent et al., ICML 2008) the logged MSE on ``x = 1`` is the masked share ``mask``
    (each zeroed entry costs 1) or the noise variance ``noise^2``; against the corrupted
    input it would be 0. A vanishing lr keeps the model fixed over the epoch."""
    X = np.ones((400, 50), np.float32)
    hist = pretrain_autoencoder(
        _identity_autoencoder(50), X, epochs=1, batch_size=64, lr=1e-12, noise=noise, mask=mask
    )
    # 20 000 entries: within 4 standard errors of the closed form
    se = np.sqrt(mask * (1 - mask) / X.size) if mask else noise**2 * np.sqrt(2 / X.size)
    assert abs(hist[0]["recon"] - expected) < 4 * se


def test_logged_recon_is_the_mean_over_rows_not_over_batches():
    """Batches of 20, 20 and 5 rows: the epoch's ``recon`` is the squared error of the
    (fixed, lr ~ 0) model averaged over the reconstructed rows, computed here by hand;
    with ``recon_rows`` over those rows only."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(45, 6)).astype(np.float32)
    X[:5] *= 10  # rows of very different error, so batch means and row means differ
    rows = np.arange(45) % 4 != 0
    for recon_rows, keep in ((None, np.ones(45, bool)), (rows, rows)):
        torch.manual_seed(0)
        ae = Autoencoder(nn.Linear(6, 2), 6, nn.Linear(2, 6))
        with torch.no_grad():
            err = ((ae(torch.from_numpy(X))[1] - torch.from_numpy(X)) ** 2).mean(1).numpy()
        hist = pretrain_autoencoder(
            ae, X, epochs=1, batch_size=20, lr=1e-12, recon_rows=recon_rows, seed=1
        )
        assert hist[0]["recon"] == pytest.approx(float(err[keep].mean()), rel=1e-5)


def test_sup_weight_scales_the_cross_entropy_zero_trains_as_without_labels():
    """``sup_weight`` multiplies the cross-entropy: at 0 the autoencoder trains exactly as
    it does without labels (its gradients are the reconstruction's) and the head never
    moves; at 1 it trains differently."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(60, 5)).astype(np.float32)
    y = rng.integers(0, 3, 60)

    def run(**kwargs):
        with deterministic(0):
            ae = Autoencoder(nn.Linear(5, 2), 5, nn.Linear(2, 5))
            head = nn.Linear(2, 3)
            start = torch.cat([p.detach().flatten() for p in head.parameters()])
            if "sup_weight" in kwargs:
                kwargs.update(y=y, head=head)
            pretrain_autoencoder(ae, X, epochs=3, batch_size=16, lr=1e-2, seed=0, **kwargs)
        flat = torch.cat([p.detach().flatten() for p in ae.parameters()])
        return flat, start, torch.cat([p.detach().flatten() for p in head.parameters()])

    plain, _, _ = run()
    zero, head_start, head_end = run(sup_weight=0.0)
    assert torch.equal(zero, plain) and torch.equal(head_end, head_start)
    assert not torch.equal(run(sup_weight=1.0)[0], plain)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_check_finite_refuses_infinities_as_well_as_nan(value):
    with pytest.raises(FloatingPointError, match="adapt: .*epoch 3"):
        check_finite(value, stage="adapt", epoch=3)
    with pytest.raises(FloatingPointError, match="adapt: .*epoch 3"):
        check_finite(torch.tensor(value), stage="adapt", epoch=3)
    check_finite(torch.tensor(1e30), stage="adapt", epoch=3)


def test_embed_takes_an_encoder_without_parameters_and_checks_its_batch_size():
    # next(encoder.parameters()) raised a bare StopIteration for nn.Identity
    from dtc.nn import embed

    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(embed(nn.Identity(), X), X)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="embed: batch_size must be an int >= 1"):
            embed(nn.Identity(), X, batch_size=bad)
    np.testing.assert_array_equal(embed(nn.Identity(), X, batch_size=np.int64(2)), X)
    with pytest.raises(ValueError, match="embed: X has no rows"):
        embed(nn.Identity(), X[:0])


def test_embed_restores_every_submodules_mode():
    # the top flag alone was restored: a block frozen in evaluation mode came back training
    from dtc.nn import embed

    enc = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    enc[1].eval()
    before = [m.training for m in enc.modules()]
    embed(enc, np.ones((3, 4), dtype=np.float32))
    assert [m.training for m in enc.modules()] == before == [True, True, False, True]


def test_pretraining_refuses_corruptions_out_of_range_and_float64_networks():
    X = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    ae = Autoencoder(nn.Linear(6, 3), 6)
    for kw, match in (
        ({"mask": 1.0}, r"mask must be a fraction in \[0, 1\), got 1.0"),
        ({"mask": float("nan")}, "mask must be a fraction"),
        ({"noise": -0.5}, "noise must be a finite std >= 0, got -0.5"),
        ({"noise": float("nan")}, "noise must be a finite std >= 0"),
    ):
        with pytest.raises(ValueError, match=f"^pre: {match}"):
            pretrain_autoencoder(ae, X, epochs=1, stage="pre", **kw)
    double = Autoencoder(nn.Linear(6, 3).double(), 6, nn.Linear(3, 6).double())
    with pytest.raises(ValueError, match=r"^pre: the network has \['torch.float64'\] parameters"):
        pretrain_autoencoder(double, X, epochs=1, stage="pre")


def test_a_supervised_head_left_in_evaluation_mode_is_trained_in_training_mode():
    X = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    head = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)).eval()
    ae = Autoencoder(nn.Linear(6, 3), 6)
    pretrain_autoencoder(ae, X, y=np.arange(20) % 2, head=head, epochs=1, batch_size=10)
    assert int(head[1].num_batches_tracked) == 2  # its statistics learnt, batch by batch


def test_a_cpu_fit_reads_no_gpu_rng(monkeypatch):
    # fork_rng was given every CUDA device whatever the fit's: get_rng_state(i) starts
    # CUDA on each GPU (memory on each, a failure on exclusive-mode GPUs). Simulated here:
    # a 2-GPU torch whose CUDA calls fail.
    from dtc.nn.training import rng_devices

    def no_cuda(*args, **kwargs):
        raise AssertionError("a CPU fit touched CUDA")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for name in ("get_rng_state", "set_rng_state", "manual_seed", "manual_seed_all"):
        monkeypatch.setattr(torch.cuda, name, no_cuda)
    assert rng_devices("cpu") == []
    assert rng_devices("cuda:1") == [1]
    with deterministic(3, "cpu"):
        a = torch.rand(3)
    with deterministic(3, "cpu"):
        assert torch.equal(torch.rand(3), a)


def test_a_checkpoint_with_a_flipped_bit_in_a_tensor_is_computed_again(tmp_path):
    # torch.save writes a CRC-32 per record that torch.load never checks: a flipped bit in
    # the labels of a refine checkpoint resumed with other labels, without a word
    import zipfile

    from dtc.nn.training import read_checkpoint, save_checkpoint

    path = tmp_path / "stage.pt"
    save_checkpoint(path, {"labels": torch.arange(64)})
    with zipfile.ZipFile(path) as archive:
        (info,) = [i for i in archive.infolist() if i.filename.endswith("/data/0")]
    raw = bytearray(path.read_bytes())
    # the record's bytes follow its local header (30 bytes, the name, the extra field)
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    raw[start + 8] ^= 1  # the second label, 1 -> 0
    path.write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match="CRC-32"):
        assert read_checkpoint(path) is None


def _raises_my_bug(storage, location):
    raise RuntimeError("my bug")


def test_an_unreadable_checkpoint_is_named(tmp_path):
    """load_checkpoint's errors named no file: torch's EOFError of an empty file, its
    RuntimeError of a cut one, the CRC-32 check's record alone."""
    from dtc.nn.training import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "whole.pt", {"w": torch.arange(64.0)})
    raw = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    # a map_location's own error is no unreadable file: raised as it is
    with pytest.raises(RuntimeError, match="my bug"):
        load_checkpoint(tmp_path / "whole.pt", map_location=_raises_my_bug)
    for name in ("empty.pt", "cut.pt"):
        with pytest.raises(ValueError, match=rf"checkpoint '.*{name}': torch cannot read it"):
            load_checkpoint(tmp_path / name)


def test_a_checkpoint_saved_without_crc32s_still_loads(tmp_path):
    # torch's compute_crc32=False writes every CRC as 0: the check called every such
    # checkpoint damaged, and every stage was computed again
    from torch.utils.serialization import config

    from dtc.nn.training import load_checkpoint, save_checkpoint

    path = tmp_path / "stage.pt"
    # set and put back by hand: monkeypatch's undo deleted torch's config attribute
    config.save.compute_crc32 = False
    try:
        save_checkpoint(path, {"x": torch.arange(5)})
    finally:
        config.save.compute_crc32 = True
    assert torch.equal(load_checkpoint(path)["x"], torch.arange(5))


def _central_entry(raw: bytes, name: bytes) -> int:
    """The offset of the central-directory entry of record ``name`` of a zip archive."""
    at = raw.find(b"PK\x01\x02")
    while raw[at + 46 : at + 46 + len(name)] != name:
        at = raw.find(b"PK\x01\x02", at + 4)
    return at


def test_a_damaged_or_foreign_checkpoint_is_a_value_error_naming_it(tmp_path):
    """load_checkpoint promised a ValueError naming the file for one torch cannot read: a
    text file was a bare KeyError (the legacy pickle reader), an .npz a RuntimeError of
    torch's zip reader, a damaged central directory zipfile's BadZipFile, none naming it;
    and one flipped bit (a tensor record marked as a folder) loaded uninitialised memory
    as the tensor's values, without a word."""
    import zipfile

    from dtc.nn.training import load_checkpoint, save_checkpoint

    path = tmp_path / "stage.pt"
    save_checkpoint(path, {"w": torch.arange(6.0)})
    raw = path.read_bytes()
    (tmp_path / "notes.txt").write_text("hello, a text file\n")
    np.savez(tmp_path / "arrays.npz", X=np.ones(3))
    folder = bytearray(raw)
    with zipfile.ZipFile(path) as archive:
        (record,) = [i.filename for i in archive.infolist() if i.filename.endswith("/data/0")]
    folder[_central_entry(raw, record.encode()) + 38] ^= 0x10  # MS-DOS "directory"
    (tmp_path / "folder.pt").write_bytes(bytes(folder))
    central = bytearray(raw)
    central[raw.find(b"PK\x01\x02") + 2] ^= 0xFF  # the central directory's magic
    (tmp_path / "central.pt").write_bytes(bytes(central))
    for name, words in [
        ("notes.txt", "not a torch checkpoint"),
        ("arrays.npz", "without torch's data.pkl"),
        ("folder.pt", "marked as folders"),
        ("central.pt", "the file is damaged"),
    ]:
        with pytest.raises(ValueError, match=rf"checkpoint '.*{name}': .*{words}"):
            load_checkpoint(tmp_path / name)
    with pytest.raises(TypeError, match="load_checkpoint: map_location must be"):
        load_checkpoint(path, map_location=5)
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(6.0))


def test_a_map_location_dict_of_devices_is_the_callers_error(tmp_path):
    # torch reads a dict's values as device strings: a torch.device failed inside the
    # load, blamed on the file ("the file is damaged"), and read_checkpoint then threw
    # a good checkpoint away
    path = tmp_path / "w.pt"
    save_checkpoint(path, {"w": torch.arange(3.0)})
    from dtc.nn.training import read_checkpoint

    bad = {"cpu": torch.device("cpu")}
    with pytest.raises(TypeError, match="load_checkpoint: map_location: a dict maps"):
        load_checkpoint(path, map_location=bad)
    with pytest.raises(TypeError, match="read_checkpoint: map_location: a dict maps"):
        read_checkpoint(path, map_location=bad)
    assert torch.equal(load_checkpoint(path, map_location={"cpu": "cpu"})["w"], torch.arange(3.0))


@pytest.mark.parametrize("device", ["mps", "meta", "xpu", "hpu"])
def test_a_device_other_than_the_cpu_or_cuda_is_refused(device):
    from dtc.nn.training import resolve_device

    with pytest.raises(ValueError, match="dtc runs on the CPU or a CUDA GPU"):
        resolve_device(device)


def test_check_device_refuses_a_device_of_another_type_by_name():
    from dtc.nn.training import check_device

    # an int is read by torch.device as a CUDA index: refused for its type, on any machine
    with pytest.raises(ValueError, match="DTC: device must be None, 'auto'"):
        check_device(0, "DTC")
    check_device("cpu", "DTC")
    check_device(torch.device("cpu"), "DTC")


def test_deterministic_seeds_the_cpu_rng_with_the_seed_itself():
    # "the global torch RNG of the CPU ... is seeded": as torch.manual_seed(seed) would
    torch.manual_seed(11)
    expected = torch.rand(3)
    with deterministic(11, device="cpu"):
        assert torch.equal(torch.rand(3), expected)


def test_minibatches_without_shuffle_keep_the_order():
    batches = list(minibatches(5, 2, make_generator(0), shuffle=False))
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3, 4]]


def test_a_failed_save_leaves_no_temporary_and_no_checkpoint(tmp_path):
    with pytest.raises(Exception):  # noqa: B017 - torch's pickling error, whatever its type
        save_checkpoint(tmp_path / "c.pt", {"f": lambda: 0})
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_is_on_disk_before_it_takes_its_name(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    save_checkpoint(tmp_path / "c.pt", {"w": torch.zeros(2)})
    assert events == ["fsync", "replace"]


def test_check_embedding_refuses_any_non_finite_value_of_an_array_or_tensor():
    from dtc.nn.training import check_embedding

    for z in (np.array([[0.0, np.nan], [1.0, 2.0]]), torch.tensor([[0.0, float("inf")]])):
        with pytest.raises(FloatingPointError, match="stage: the training diverged"):
            check_embedding(z, stage="stage", epoch=3)
    check_embedding(np.zeros((2, 2)), stage="stage", epoch=0)


def test_as_tensor_takes_a_reversed_view():
    from dtc.nn.training import as_tensor

    X = np.arange(6, dtype=np.float32).reshape(3, 2)  # no copy to another dtype
    assert torch.equal(as_tensor(X[::-1]), torch.tensor(X[::-1].copy(), dtype=torch.float32))


def test_embed_runs_in_evaluation_mode_without_autocast_and_seed_is_checked():
    from dtc.nn import embed

    enc = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    before = enc[1].running_mean.clone()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        Z = embed(enc, X)
    assert Z.dtype == np.float32
    assert torch.equal(enc[1].running_mean, before) and enc.training  # eval inside only
    ae = Autoencoder(nn.Linear(3, 2), 3, nn.Linear(2, 3))
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        pretrain_autoencoder(ae, X, epochs=1, seed=-1)


def test_epochs_are_counted_from_zero_and_the_head_and_weight_decay_take_part():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 4)).astype(np.float32)
    y = np.arange(16) % 2

    def run(weight_decay):
        torch.manual_seed(0)
        ae = Autoencoder(nn.Linear(4, 2), 4, nn.Linear(2, 4)).eval()
        head = nn.Linear(2, 2)
        start = head.weight.detach().clone()
        seen = []
        history = pretrain_autoencoder(
            ae,
            X,
            epochs=2,
            batch_size=8,
            y=y,
            head=head,
            weight_decay=weight_decay,
            on_epoch_end=lambda epoch, logs: seen.append(epoch),
        )
        assert seen == [0, 1] and [h["epoch"] for h in history] == [0, 1]
        assert not torch.equal(head.weight, start)  # the head is trained too
        return ae.encoder.weight.detach().clone()

    assert not torch.equal(run(0.0), run(0.5))  # weight decay is applied
