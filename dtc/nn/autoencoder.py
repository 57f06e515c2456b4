"""Autoencoders for deep (transfer) clustering: MLP, small convolutional, or user-built.

Every autoencoder here is an :class:`Autoencoder`: ``forward(x)`` takes flat inputs of
shape ``(n, d)`` and returns ``(z, x_hat)`` with ``z`` of shape ``(n, n_latent)`` and
``x_hat`` of shape ``(n, d)``. The encoder is an ``nn.Sequential`` of *blocks* (one
block = one learned layer and its activation), so callers can freeze the first ``k``
blocks or give them a lower learning rate.

Presets for the MLP shape (``MLP_PRESETS``):

``"dec"``    d-500-500-2000-10, the shape of DEC (Xie, Girshick & Farhadi, ICML 2016)
             and IDEC (Guo, Gao, Liu & Yin, IJCAI 2017), tuned for 10^4-10^5 samples;
``"small"``  d-256-128-32, the default: the benchmarks here hold 150-2000 samples
             per domain, where the DEC shape (over 2.5 M weights for d=800)
             overfits and costs several times the CPU time for no gain.
"""

from __future__ import annotations

import collections.abc
import contextlib
import itertools
import math
import numbers

import numpy as np
import torch
from torch import nn

from dtc._validation import check_bool

__all__ = [
    "MLP_PRESETS",
    "Autoencoder",
    "ConvAutoencoder",
    "MLPAutoencoder",
    "build_autoencoder",
    "check_architecture",
    "check_encoder",
    "mlp",
]

#: Preset name -> ``(hidden widths, embedding width)`` of :class:`MLPAutoencoder`
#: (``architecture=`` of :func:`build_autoencoder`): ``"dec"`` the DEC / IDEC shape
#: d-500-500-2000-10, ``"small"`` d-256-128-32, what ``"mlp"`` builds by default.
MLP_PRESETS: dict[str, tuple[tuple[int, ...], int]] = {
    "dec": ((500, 500, 2000), 10),
    "small": ((256, 128), 32),
}

_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "tanh": nn.Tanh}


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    return _ACTIVATIONS[name]()


def _check_hidden(hidden, name: str = "hidden") -> list[int]:
    """``hidden`` as a list of layer sizes: a list or tuple of ints >= 1, else ``ValueError``
    naming ``name`` (``int()`` of each would accept ``"64"`` as ``[6, 4]`` and truncate
    ``12.7``)."""
    # a list, tuple, range or 1-d integer array ("a sequence of int"); a string is none
    sequence = isinstance(hidden, (list, tuple, range)) or (
        isinstance(hidden, np.ndarray) and hidden.ndim == 1
    )
    sizes = list(hidden) if sequence else None
    if sizes is None or not all(
        isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes
    ):
        raise ValueError(f"{name}: expected a list of layer sizes (ints >= 1), got {hidden!r}")
    return [int(h) for h in sizes]


def _check_n_latent(n_latent) -> int:
    """``n_latent`` as an int >= 1, else ``ValueError`` (``int()`` would truncate ``2.7``,
    and ``conv`` read ``0`` as "not given" and built 32)."""
    if isinstance(n_latent, bool) or not isinstance(n_latent, numbers.Integral) or n_latent < 1:
        raise ValueError(f"n_latent: expected an int >= 1, got {n_latent!r}")
    return int(n_latent)


def mlp(sizes, *, activation: str = "relu", batch_norm: bool = False) -> nn.Sequential:
    """An MLP ``sizes[0] -> ... -> sizes[-1]`` as a ``Sequential`` of blocks.

    Every block but the last is ``Linear (+ BatchNorm) + activation``; the last is a
    plain ``Linear`` (a linear embedding / reconstruction, as in DEC).
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"mlp: expected at least two positive layer sizes, got {sizes}")
    batch_norm = check_bool(batch_norm, method="mlp", name="batch_norm")  # "no" added it
    blocks = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        if i == len(sizes) - 2:
            blocks.append(nn.Linear(a, b))
            continue
        layers = [nn.Linear(a, b)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(b))
        layers.append(_activation(activation))
        blocks.append(nn.Sequential(*layers))
    return nn.Sequential(*blocks)


@contextlib.contextmanager
def evaluating(module: nn.Module):
    """``module`` in evaluation mode for the body, then every submodule back in the mode it
    had: restoring the top module's flag alone (``train(flag)`` recurses) put a block
    frozen in evaluation mode back into training mode, its batch norm updating again."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode


def module_device(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter, else of its first buffer, else the
    CPU: a module without parameters runs anywhere."""
    for t in itertools.chain(module.parameters(), module.buffers()):
        return t.device
    return torch.device("cpu")


def _dry_run(module: nn.Module, width: int):
    """``module`` applied to a ``(2, width)`` zero batch on its parameters' device and
    dtype (CPU float32 without parameters), in eval mode and without gradients; every
    submodule's previous train/eval mode is restored."""
    try:
        param = next(module.parameters())
        device, dtype = param.device, param.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    # batch norm must not update its running statistics on a dry run
    with evaluating(module), torch.no_grad():
        return module(torch.zeros(2, width, device=device, dtype=dtype))


def check_encoder(encoder: nn.Module, n_features: int, n_latent: int | None = None) -> int:
    """Dry-run ``encoder`` on a ``(2, n_features)`` zero batch; return its output width.

    Raises ``ValueError`` naming the expected shapes when the forward pass fails or
    does not return a 2-d ``(2, k)`` tensor (or ``k != n_latent`` when given).
    """
    if not isinstance(encoder, nn.Module):
        raise ValueError(f"encoder: expected a torch.nn.Module, got {type(encoder)!r}")
    try:
        out = _dry_run(encoder, n_features)
    except Exception as exc:  # any failure means the shapes do not fit
        raise ValueError(
            f"encoder: expected to map inputs of shape (n, {n_features}) to (n, k), but a dry "
            f"forward pass on shape (2, {n_features}) failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"encoder: expected output of shape (n, k) for input (n, {n_features}); for input "
            f"(2, {n_features}) it returned {shape}"
        )
    if n_latent is not None and out.shape[1] != n_latent:
        raise ValueError(
            f"encoder: expected output of shape (n, {n_latent}), got (2, {out.shape[1]})"
        )
    return int(out.shape[1])


class Autoencoder(nn.Module):
    """An encoder and a decoder on flat inputs ``(n, d)``.

    Parameters
    ----------
    encoder : nn.Module
        Maps ``(n, d)`` to ``(n, k)``; checked with a dry forward pass.
    n_features : int
        Input width ``d``.
    decoder : nn.Module, optional
        Maps ``(n, k)`` to ``(n, d)``. Default: the mirror MLP ``k-128-256-d``
        (``decoder_hidden``), which is what a user-supplied encoder gets.
    decoder_hidden : sequence of int, default (128, 256)
        Hidden widths of that default decoder (used only when ``decoder`` is None).
    """

    def __init__(
        self,
        encoder: nn.Module,
        n_features: int,
        decoder: nn.Module | None = None,
        *,
        decoder_hidden=(128, 256),
    ):
        super().__init__()
        self.n_features = int(n_features)
        self.n_latent = check_encoder(encoder, self.n_features)
        self.encoder = encoder
        if decoder is None:
            # checked as MLPAutoencoder's hidden is: "64" built 4 -> 6 -> 4 -> d
            hidden = _check_hidden(decoder_hidden, "decoder_hidden")
            decoder = mlp([self.n_latent, *hidden, self.n_features])
        self.decoder = decoder
        try:
            out = _dry_run(decoder, self.n_latent)
        except Exception as exc:
            raise ValueError(
                f"decoder: expected to map (n, {self.n_latent}) to (n, {self.n_features}); "
                f"a dry forward pass failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, self.n_features):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"decoder: expected output of shape (n, {self.n_features}), got {got} "
                f"for input (2, {self.n_latent})"
            )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, d) -> (n, k)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, k) -> (n, d)``."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(n, d)`` -> ``(z, x_hat)``: the embedding ``z`` ``(n, k)`` and its
        reconstruction ``x_hat`` ``(n, d)``."""
        z = self.encoder(x)
        return z, self.decoder(z)

    @property
    def encoder_blocks(self) -> list[nn.Module]:
        """The encoder's blocks in input-to-output order (what ``freeze_layers`` counts)."""
        if isinstance(self.encoder, nn.Sequential):
            return list(self.encoder)
        return [self.encoder]


class MLPAutoencoder(Autoencoder):
    """Fully connected autoencoder ``d-h1-...-hm-k`` with the mirrored decoder.

    Parameters
    ----------
    n_features : int
        Input width ``d``.
    hidden : sequence of int
        Hidden widths of the encoder (the decoder mirrors them).
    n_latent : int
        Embedding width ``k``.
    activation : {"relu", "leaky_relu", "elu", "tanh"}
    batch_norm : bool
        Batch normalisation after each hidden linear layer.

    ``MLPAutoencoder.from_preset(d, "dec")`` builds the DEC/IDEC shape d-500-500-2000-10.
    """

    def __init__(
        self,
        n_features: int,
        hidden=(256, 128),
        n_latent: int = 32,
        *,
        activation: str = "relu",
        batch_norm: bool = False,
    ):
        sizes = [int(n_features), *_check_hidden(hidden), _check_n_latent(n_latent)]
        kw = {"activation": activation, "batch_norm": batch_norm}
        super().__init__(mlp(sizes, **kw), n_features, mlp(sizes[::-1], **kw))

    @classmethod
    def from_preset(cls, n_features: int, preset: str = "small", **kwargs) -> MLPAutoencoder:
        """An autoencoder of one of :data:`MLP_PRESETS`' shapes: ``"dec"`` (d-500-500-2000-10,
        as DEC) or ``"small"`` (d-256-128-32); ``kwargs`` go to the constructor."""
        if preset not in MLP_PRESETS:
            raise ValueError(f"preset must be one of {sorted(MLP_PRESETS)}, got {preset!r}")
        hidden, n_latent = MLP_PRESETS[preset]
        return cls(n_features, hidden, n_latent, **kwargs)


def _is_sizes(value) -> bool:
    """Whether ``value`` can be a sequence of sizes: an iterable other than a string, of one
    dimension where it has dimensions (a list, tuple, range, deque, ``array.array``,
    ``torch.Size``, 1-d array). A single number is none (iterating it failed with Python's
    bare "'int' object is not iterable", naming no argument), nor a 0-d array; any other
    sequence is taken as before (a list/tuple/range/ndarray test refused a deque). Nor a
    set or a mapping: no order of sizes (``channels={16, 32}`` iterated as 32, 16 and built
    the layers reversed without a word)."""
    if isinstance(value, (str, bytes, collections.abc.Set, collections.abc.Mapping)):
        return False
    return isinstance(value, collections.abc.Iterable) and getattr(value, "ndim", 1) == 1


def _image_chw(image_shape) -> tuple[int, int, int]:
    if not _is_sizes(image_shape):
        raise ValueError(f"image_shape: expected (H, W) or (C, H, W), got {image_shape!r}")
    # ints only, as Domain takes them: int() truncated 8.9 to 8 and read True as 1 channel
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in image_shape):
        raise ValueError(f"image_shape: expected (H, W) or (C, H, W) of ints, got {image_shape!r}")
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape: expected (H, W) or (C, H, W), got {image_shape!r}")
    return shape


class ConvAutoencoder(Autoencoder):
    """Small convolutional autoencoder for flat image rows (8x8, 16x16, 32x32, ...).

    Encoder: ``len(channels)`` stride-2 3x3 convolutions (each halves H and W) with
    ReLU, then a linear layer to ``n_latent`` (the embedding is linear); the decoder mirrors
    it with transposed convolutions, ReLU after each but the last: the reconstruction is
    linear, as the MLP's, since standardised pixels are negative too. Inputs and
    reconstructions stay flat ``(n, C*H*W)``, so the autoencoder is interchangeable with
    :class:`MLPAutoencoder`.

    Parameters
    ----------
    image_shape : (H, W) or (C, H, W)
        How a row reshapes into an image (``Domain.image_shape``); ``H`` and ``W``
        must be divisible by ``2 ** len(channels)``.
    channels : sequence of int
        Output channels of the convolutions.
    n_latent : int
        Embedding width ``k``.
    """

    def __init__(self, image_shape, channels=(16, 32), n_latent: int = 32):
        c, h, w = _image_chw(image_shape)
        n_latent = _check_n_latent(n_latent)
        if not _is_sizes(channels):
            raise ValueError(
                f"channels: expected a sequence of positive channel counts, got {channels!r}"
            )
        given = list(channels)
        # int() would truncate 16.7 to 16: a count that is not a whole number is refused
        if not given or not all(
            isinstance(ch, numbers.Integral) and not isinstance(ch, bool) and ch >= 1
            for ch in given
        ):
            raise ValueError(f"channels: expected positive integer channel counts, got {given}")
        channels = [int(ch) for ch in given]
        factor = 2 ** len(channels)
        if h % factor or w % factor:
            raise ValueError(
                f"image_shape {(c, h, w)}: H and W must be divisible by 2**len(channels) = "
                f"{factor} for the stride-2 convolutions"
            )
        hs, ws = h // factor, w // factor
        flat = channels[-1] * hs * ws
        enc = [nn.Unflatten(1, (c, h, w))]
        for a, b in zip([c, *channels[:-1]], channels):
            enc.append(nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1), nn.ReLU()))
        enc.append(nn.Sequential(nn.Flatten(), nn.Linear(flat, int(n_latent))))
        dec = [
            nn.Sequential(nn.Linear(int(n_latent), flat), nn.ReLU()),
            nn.Unflatten(1, (channels[-1], hs, ws)),
        ]
        rev = channels[::-1]
        for i, (a, b) in enumerate(zip(rev, [*rev[1:], c])):
            conv = nn.ConvTranspose2d(a, b, 3, stride=2, padding=1, output_padding=1)
            dec.append(conv if i == len(rev) - 1 else nn.Sequential(conv, nn.ReLU()))
        dec.append(nn.Flatten())
        super().__init__(nn.Sequential(*enc), c * h * w, nn.Sequential(*dec))
        self.image_shape = (c, h, w)

    @property
    def encoder_blocks(self) -> list[nn.Module]:
        """The encoder's blocks in input-to-output order (what ``freeze_layers`` counts):
        the convolutions and the final linear layer."""
        # The Unflatten has no weights: it is not a layer anyone would freeze.
        return list(self.encoder)[1:]


def check_architecture(architecture, *, method: str | None = None) -> None:
    """The data-free check of an ``architecture`` (see :func:`build_autoencoder`): a known
    name or an ``nn.Module``, else ``ValueError`` (naming ``method`` where given). Whether
    it fits the data is checked when it is built."""
    if not (
        isinstance(architecture, nn.Module)
        or (isinstance(architecture, str) and architecture in ("mlp", "conv", *MLP_PRESETS))
    ):
        raise ValueError(
            f"{method + ': ' if method else ''}architecture must be 'mlp', 'conv', one of "
            f"{sorted(MLP_PRESETS)} or an nn.Module, got {architecture!r}"
        )


def build_autoencoder(
    architecture,
    n_features: int,
    *,
    image_shape=None,
    hidden=None,
    n_latent: int | None = None,
    activation: str = "relu",
) -> Autoencoder:
    """Build the autoencoder named by ``architecture``.

    ``architecture`` is ``"mlp"`` (sizes from ``hidden`` / ``n_latent``, default the
    ``"small"`` preset), a preset name of ``MLP_PRESETS`` (``"dec"``, ``"small"``),
    ``"conv"`` (needs ``image_shape``), an :class:`Autoencoder` (returned as is, after
    a shape check), or any ``nn.Module`` mapping ``(n, d)`` to ``(n, k)``: it becomes
    the encoder of an :class:`Autoencoder` with an MLP decoder. ``hidden`` and
    ``activation`` are refused but with an MLP, where they would be ignored; a given
    network keeps its own embedding width (``n_latent`` is left unused, as DTC's family
    defaults rely on).
    """
    n_features = int(n_features)
    check_architecture(architecture)
    if not isinstance(architecture, str) or architecture == "conv":
        # ignored, they built another network than asked without a word (conv's ReLU
        # (16, 32) for hidden=[3], activation="tanh")
        kind = repr(architecture) if isinstance(architecture, str) else "a given network"
        for name, value, default in (("hidden", hidden, None), ("activation", activation, "relu")):
            # "is not None": a numpy array of widths (a hidden= taken) has no truth value
            if value is not None if default is None else value != default:
                raise ValueError(
                    f"build_autoencoder: {name}={value!r} has no effect with architecture "
                    f"{kind}; leave it at {default!r}"
                )
    if isinstance(architecture, Autoencoder):
        if architecture.n_features != n_features:
            raise ValueError(
                f"architecture: the autoencoder expects inputs of shape (n, "
                f"{architecture.n_features}), the data has shape (n, {n_features})"
            )
        check_encoder(architecture.encoder, n_features)
        return architecture
    if isinstance(architecture, nn.Module):
        return Autoencoder(architecture, n_features)
    if architecture == "conv":
        if image_shape is None:
            raise ValueError("architecture='conv' needs the domain's image_shape (it is None)")
        if math.prod(_image_chw(image_shape)) != n_features:
            raise ValueError(
                f"image_shape {tuple(image_shape)} does not match the {n_features} features"
            )
        latent = MLP_PRESETS["small"][1] if n_latent is None else n_latent
        return ConvAutoencoder(image_shape, n_latent=latent)
    preset_hidden, preset_latent = MLP_PRESETS["small" if architecture == "mlp" else architecture]
    return MLPAutoencoder(
        n_features,
        preset_hidden if hidden is None else hidden,
        preset_latent if n_latent is None else n_latent,
        activation=activation,
    )
