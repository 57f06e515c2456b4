"""Networks and training utilities shared by DTC and the deep baselines."""

from dtc.nn.autoencoder import (
    MLP_PRESETS,
    Autoencoder,
    ConvAutoencoder,
    MLPAutoencoder,
    build_autoencoder,
    check_architecture,
    check_encoder,
    mlp,
)
from dtc.nn.training import (
    check_device,
    check_finite,
    deterministic,
    embed,
    load_checkpoint,
    make_generator,
    minibatches,
    pretrain_autoencoder,
    progress_bar,
    read_checkpoint,
    resolve_device,
    save_checkpoint,
)

__all__ = [
    "MLP_PRESETS",
    "Autoencoder",
    "ConvAutoencoder",
    "MLPAutoencoder",
    "build_autoencoder",
    "check_architecture",
    "check_device",
    "check_encoder",
    "check_finite",
    "deterministic",
    "embed",
    "load_checkpoint",
    "make_generator",
    "minibatches",
    "mlp",
    "pretrain_autoencoder",
    "progress_bar",
    "read_checkpoint",
    "resolve_device",
    "save_checkpoint",
]
