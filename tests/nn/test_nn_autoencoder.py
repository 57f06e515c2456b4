"""Shapes and checks of the autoencoders in dtc.nn.autoencoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dtc.nn import (
    MLP_PRESETS,
    Autoencoder,
    ConvAutoencoder,
    MLPAutoencoder,
    build_autoencoder,
    check_encoder,
)


def _linear_sizes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_dec_preset_has_the_dec_idec_shape():
    ae = MLPAutoencoder.from_preset(784, "dec")
    assert _linear_sizes(ae.encoder) == [(784, 500), (500, 500), (500, 2000), (2000, 10)]
    assert _linear_sizes(ae.decoder) == [(10, 2000), (2000, 500), (500, 500), (500, 784)]
    assert MLP_PRESETS["dec"] == ((500, 500, 2000), 10)


def test_mlp_forward_shapes_and_blocks():
    ae = MLPAutoencoder(20, hidden=(16, 8), n_latent=4)
    z, xr = ae(torch.randn(5, 20))
    assert z.shape == (5, 4) and xr.shape == (5, 20)
    assert len(ae.encoder_blocks) == 3
    # the embedding is linear (no activation after the last layer, as in DEC)
    assert isinstance(ae.encoder_blocks[-1], nn.Linear)


@pytest.mark.parametrize("shape", [(8, 8), (16, 16), (32, 32), (3, 16, 16)])
def test_conv_autoencoder_round_trips_image_rows(shape):
    d = int(torch.tensor(shape).prod())
    ae = ConvAutoencoder(shape, channels=(4, 8), n_latent=6)
    z, xr = ae(torch.randn(3, d))
    assert z.shape == (3, 6) and xr.shape == (3, d)
    assert len(ae.encoder_blocks) == 3  # two convolutions and the linear embedding
    # the reconstruction is linear (no ReLU after the last transposed convolution): a ReLU
    # there could not give the negative values of standardised features
    last = [m for m in ae.decoder.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    with torch.no_grad():
        last.bias.fill_(-10.0)
    assert (ae(torch.randn(3, d))[1] < 0).all()


def test_conv_autoencoder_rejects_indivisible_image():
    with pytest.raises(ValueError, match="divisible"):
        ConvAutoencoder((10, 10), channels=(4, 8))


def test_user_encoder_gets_an_mlp_decoder():
    ae = build_autoencoder(nn.Sequential(nn.Linear(12, 7), nn.Tanh()), 12)
    assert isinstance(ae, Autoencoder) and ae.n_latent == 7
    z, xr = ae(torch.randn(4, 12))
    assert z.shape == (4, 7) and xr.shape == (4, 12)


def test_user_encoder_with_wrong_input_width_is_refused():
    with pytest.raises(ValueError, match=r"inputs of shape \(n, 12\)"):
        build_autoencoder(nn.Linear(10, 3), 12)


def test_user_encoder_with_wrong_output_rank_is_refused():
    with pytest.raises(ValueError, match=r"expected output of shape \(n, k\)"):
        check_encoder(nn.Unflatten(1, (3, 4)), 12)
    with pytest.raises(ValueError, match=r"\(n, 5\)"):
        check_encoder(nn.Linear(12, 3), 12, n_latent=5)


def test_build_autoencoder_names_and_errors():
    assert _linear_sizes(build_autoencoder("mlp", 30).encoder) == [(30, 256), (256, 128), (128, 32)]
    assert isinstance(build_autoencoder("conv", 64, image_shape=(8, 8)), ConvAutoencoder)
    with pytest.raises(ValueError, match="image_shape"):
        build_autoencoder("conv", 64)
    with pytest.raises(ValueError, match="architecture"):
        build_autoencoder("transformer", 64)
    with pytest.raises(ValueError, match=r"\(n, 30\)"):
        build_autoencoder(MLPAutoencoder(30), 40)
    # a list is unhashable: `in MLP_PRESETS` raised TypeError
    with pytest.raises(ValueError, match=r"architecture must be .* got \['mlp'\]"):
        build_autoencoder(["mlp"], 64)
    # int() of each entry took "64" as [6, 4], 12.7 as 12 and failed on 64 without naming it
    for hidden in ("64", (12.7,), (True,), (0,), 64):
        with pytest.raises(ValueError, match="hidden: expected a list of layer sizes"):
            build_autoencoder("mlp", 30, hidden=hidden)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_decoder_dry_run_uses_its_own_device_and_dtype(device):
    enc = nn.Linear(8, 2).to(device=device, dtype=torch.float64)
    dec = nn.Linear(2, 8).to(device=device, dtype=torch.float64)
    ae = Autoencoder(enc, 8, dec)
    assert ae.n_latent == 2 and ae.decoder is dec


def test_decoder_dry_run_keeps_its_train_or_eval_mode():
    dec = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6)).eval()
    Autoencoder(nn.Linear(6, 3), 6, dec)
    assert not dec.training and int(dec[1].num_batches_tracked) == 0
    dec.train()
    Autoencoder(nn.Linear(6, 3), 6, dec)
    assert dec.training and int(dec[1].num_batches_tracked) == 0


def test_builder_bad_input_is_named():
    from dtc.nn.autoencoder import mlp

    with pytest.raises(ValueError, match="activation must be one of"):
        mlp([4, 3, 2], activation="swish")
    with pytest.raises(ValueError, match="at least two positive layer sizes, got \\[4\\]"):
        mlp([4])
    with pytest.raises(ValueError, match="encoder: expected a torch.nn.Module"):
        check_encoder(lambda x: x, 4)
    with pytest.raises(ValueError, match="preset must be one of"):
        MLPAutoencoder.from_preset(10, "huge")
    with pytest.raises(ValueError, match=r"image_shape: expected \(H, W\) or \(C, H, W\)"):
        ConvAutoencoder((1, 2, 8, 8))
    # int() truncated 8.9 to 8 (and 16.5 built a 16x16 network), True read as one channel
    for shape in ((8.9, 8.9), (True, 8, 8)):
        with pytest.raises(ValueError, match=r"image_shape: .* of ints, got"):
            ConvAutoencoder(shape)
    # a numpy array of widths has no effect with conv: said so, not numpy's ambiguous truth
    with pytest.raises(ValueError, match=r"hidden=array\(\[4, 4\]\) has no effect with"):
        build_autoencoder("conv", 64, image_shape=(8, 8), hidden=np.array([4, 4]))
    with pytest.raises(ValueError, match="channels: expected positive integer channel counts"):
        ConvAutoencoder((8, 8), channels=())
    with pytest.raises(ValueError, match=r"channels: .* got \[16.7\]"):  # int() made it 16
        ConvAutoencoder((8, 8), channels=(16.7,))
    with pytest.raises(ValueError, match=r"image_shape \(8, 8\) does not match the 65 features"):
        build_autoencoder("conv", 65, image_shape=(8, 8))
    # A decoder that cannot take the code, or returns the wrong width, is named.
    with pytest.raises(ValueError, match="decoder: expected to map \\(n, 3\\) to \\(n, 6\\)"):
        Autoencoder(nn.Linear(6, 3), 6, decoder=nn.Linear(5, 6))
    with pytest.raises(ValueError, match="decoder: expected output of shape \\(n, 6\\)"):
        Autoencoder(nn.Linear(6, 3), 6, decoder=nn.Linear(3, 7))


def test_batch_norm_mlp_and_a_user_encoder_as_one_block():
    from dtc.nn.autoencoder import mlp

    net = mlp([6, 4, 2], batch_norm=True)
    assert [type(m).__name__ for m in net[0]] == ["Linear", "BatchNorm1d", "ReLU"]
    assert isinstance(net[1], nn.Linear) and len(net) == 2
    enc = nn.Linear(6, 3)
    ae = Autoencoder(enc, 6)
    assert ae.encoder_blocks == [enc]
    x = torch.randn(4, 6)
    torch.testing.assert_close(ae.decode(ae.encode(x)), ae(x)[1])


@pytest.mark.parametrize("architecture", ["conv", "mlp", "small"])
@pytest.mark.parametrize("n_latent", [0, -3, 2.7, True])
def test_bad_n_latent_is_named_for_every_architecture(architecture, n_latent):
    # conv read n_latent=0 as "not given" and built 32, a negative width failed inside torch,
    # and 2.7 was truncated to 2 (mlp too)
    with pytest.raises(ValueError, match="n_latent: expected an int >= 1"):
        build_autoencoder(architecture, 64, image_shape=(8, 8), n_latent=n_latent)


def test_conv_n_latent_default_and_given():
    assert build_autoencoder("conv", 64, image_shape=(8, 8)).n_latent == MLP_PRESETS["small"][1]
    assert build_autoencoder("conv", 64, image_shape=(8, 8), n_latent=5).n_latent == 5


def test_a_decoder_returning_a_tuple_is_named():
    # its dry run's output was read as a tensor: AttributeError 'tuple' ... 'shape'
    class PairDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 8)

        def forward(self, z):
            return self.lin(z), z

    with pytest.raises(ValueError, match=r"decoder: expected output of shape \(n, 8\), got tuple"):
        Autoencoder(nn.Linear(8, 2), 8, PairDecoder())


def test_the_decoders_sizes_are_checked_as_the_encoders_are():
    # "64" built a 4 -> 6 -> 4 -> 10 decoder, [12.9] one of 12
    from dtc.nn.autoencoder import Autoencoder

    for bad in ("64", [12.9], [0], 5):
        with pytest.raises(ValueError, match=r"^decoder_hidden: expected a list of layer sizes"):
            Autoencoder(nn.Linear(10, 4), 10, decoder_hidden=bad)
    for sizes in ([6, 8], (6, 8), range(6, 9, 2), np.array([6, 8])):  # sequences of ints
        ae = Autoencoder(nn.Linear(10, 4), 10, decoder_hidden=sizes)
        widths = [m.out_features for m in ae.decoder.modules() if isinstance(m, nn.Linear)]
        assert widths == [6, 8, 10]


def test_build_autoencoder_refuses_settings_it_would_ignore():
    # conv built its ReLU (16, 32) network for hidden=[3], activation="tanh"; a given
    # encoder an MLP decoder whatever hidden said
    from dtc.nn import build_autoencoder

    for arch, extra in (("conv", {"image_shape": (8, 8)}), (nn.Linear(64, 4), {})):
        for kw in ({"hidden": [3]}, {"activation": "tanh"}):
            with pytest.raises(
                ValueError, match=r"^build_autoencoder: (hidden|activation)=.* has no effect"
            ):
                build_autoencoder(arch, 64, **extra, **kw)
    assert build_autoencoder(nn.Linear(64, 4), 64, n_latent=8).n_latent == 4  # its own width
    assert build_autoencoder("mlp", 64, hidden=[16], n_latent=3, activation="tanh").n_latent == 3


def test_conv_sizes_given_as_one_number_are_refused_by_name():
    # A single int (channels=16, image_shape=64) failed with Python's bare "'int' object
    # is not iterable", naming neither argument.
    with pytest.raises(ValueError, match=r"channels: expected a sequence of .* got 16"):
        ConvAutoencoder((8, 8), channels=16)
    with pytest.raises(ValueError, match=r"image_shape: expected \(H, W\) or \(C, H, W\).* 64"):
        ConvAutoencoder(64)
    with pytest.raises(ValueError, match=r"image_shape: expected \(H, W\) or \(C, H, W\).* 64"):
        build_autoencoder("conv", 64, image_shape=64)


def test_conv_sizes_take_any_sequence_but_a_string():
    # A deque or array.array of sizes (sequences, as the docstring asks) built the network
    # before single numbers were refused by name; they still do, and so does a generator
    # of channel counts. A string or a 0-d array is no sequence of sizes.
    import array
    import collections

    for shape, channels in (
        (array.array("i", [8, 8]), array.array("i", [4, 8])),
        ((8, 8), collections.deque([4, 8])),
        ((8, 8), (c for c in (4, 8))),
        (torch.Size([1, 8, 8]), np.array([4, 8])),
    ):
        ae = ConvAutoencoder(shape, channels=channels, n_latent=3)
        assert ae.image_shape == (1, 8, 8)
        convs = [m.out_channels for m in ae.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs == [4, 8]  # the given channels, not the default (16, 32)
    with pytest.raises(ValueError, match=r"channels: expected a sequence of .* got '16'"):
        ConvAutoencoder((8, 8), channels="16")
    with pytest.raises(ValueError, match=r"image_shape: expected \(H, W\) or \(C, H, W\), got"):
        ConvAutoencoder(np.array(8))
    # a set or a mapping has no order of sizes: {16, 32} iterates as 32, 16
    for channels in ({16, 32}, {16: 0, 32: 1}):
        with pytest.raises(ValueError, match=r"channels: expected a sequence of"):
            ConvAutoencoder((8, 8), channels=channels)
    with pytest.raises(ValueError, match=r"image_shape: expected \(H, W\) or \(C, H, W\), got"):
        ConvAutoencoder({16, 8})


@pytest.mark.parametrize(
    ("name", "cls"),
    [("relu", nn.ReLU), ("leaky_relu", nn.LeakyReLU), ("elu", nn.ELU), ("tanh", nn.Tanh)],
)
def test_each_activation_name_builds_that_activation(name, cls):
    ae = MLPAutoencoder(6, hidden=(5,), n_latent=2, activation=name)
    for part in (ae.encoder, ae.decoder):
        acts = [type(m) for m in part.modules() if not isinstance(m, (nn.Sequential, nn.Linear))]
        assert acts == [cls]


def test_module_device_is_the_first_buffers_without_parameters():
    from dtc.nn.autoencoder import module_device

    holder = nn.Module()
    holder.register_buffer("table", torch.zeros(2, device="meta"))
    assert module_device(holder) == torch.device("meta")
    assert module_device(nn.ReLU()) == torch.device("cpu")


class _BatchMean(nn.Module):
    def forward(self, x):
        return x.mean(0, keepdim=True)  # (n, d) -> (1, d): not one row per sample


def test_an_encoder_that_does_not_keep_the_batch_is_refused():
    with pytest.raises(ValueError, match=r"expected output of shape \(n, k\)"):
        check_encoder(_BatchMean(), 5)


def test_batch_norm_is_in_the_mirrored_decoder_too():
    ae = MLPAutoencoder(6, hidden=(5, 4), n_latent=2, batch_norm=True)
    for part in (ae.encoder, ae.decoder):
        assert sum(isinstance(m, nn.BatchNorm1d) for m in part.modules()) == 2


@pytest.mark.parametrize("shape", [(0, 8), (8, -8), (0, 8, 8)])
def test_conv_image_sizes_below_one_are_refused(shape):
    with pytest.raises(ValueError, match="image_shape: expected"):
        ConvAutoencoder(shape, channels=(4,))


def test_conv_width_must_be_divisible_too_and_channels_positive():
    with pytest.raises(ValueError, match="divisible"):
        ConvAutoencoder((8, 6), channels=(4, 8))  # H divides by 4, W does not
    with pytest.raises(ValueError, match="positive integer channel counts"):
        ConvAutoencoder((8, 8), channels=(0,))


def test_an_mlp_builds_with_the_activation_asked_and_refuses_empty_layers():
    from dtc.nn.autoencoder import mlp

    ae = build_autoencoder("mlp", 6, hidden=[4], n_latent=2, activation="tanh")
    assert any(isinstance(m, nn.Tanh) for m in ae.encoder.modules())
    assert not any(isinstance(m, nn.ReLU) for m in ae.modules())
    with pytest.raises(ValueError, match="mlp: expected at least two positive layer sizes"):
        mlp([4, 0, 2])
