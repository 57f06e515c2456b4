"""Use pytorch-adapt's loss layers (Musgrave, Belongie & Lim, "PyTorch Adapt", arXiv
2022) as dtc alignment losses.

Any ``pytorch_adapt.layers`` module called as ``layer(source, target)`` and returning a
scalar (``MMDLoss``, ``CORALLoss``, ``MeanDistLoss``, ...) becomes a dtc loss with
:class:`PytorchAdaptLoss`; ``pa_mmd`` and ``pa_coral`` are registered by name.
pytorch-adapt is optional (no extra: it pins other versions of the libraries it needs
and declares torchvision, so it is installed with ``--no-deps``, as ``make venv`` does) and
is imported only when such a loss is built, never by ``import dtc.align``.
"""

from __future__ import annotations

import inspect
import numbers
import sys

import torch
from torch import nn

from dtc.align.base import AlignmentLoss
from dtc.align.coral import _finite_covariance
from dtc.align.kernels import _widened

__all__ = ["INSTALL_HINT", "PACORALLoss", "PAMMDLoss", "PytorchAdaptLoss", "adapt_layers"]

INSTALL_HINT = (
    "pip install --no-deps pytorch-adapt==0.0.83, then pip install torchmetrics "
    "pytorch-metric-learning (--no-deps because it declares torchvision, which dtc does not "
    "use, and pins older versions of those two; its layers work with the current ones)"
)


def adapt_layers():
    """The ``pytorch_adapt.layers`` module; ``ImportError`` saying how to install it."""
    try:
        import pytorch_adapt.layers as layers
    except ImportError as exc:
        raise ImportError(
            f"pytorch-adapt losses need the optional pytorch-adapt, which is not installed "
            f"({exc}); install it with: {INSTALL_HINT}"
        ) from exc
    return layers


def _resolve_layer(layer, params: dict) -> nn.Module:
    if isinstance(layer, nn.Module):
        if params:
            raise ValueError(
                f"PytorchAdaptLoss: layer is already built; got extra parameters {sorted(params)}"
            )
        return layer
    layer = _layer_class(layer)
    return layer(**_layer_params(layer, params))


def _layer_class(layer) -> type:
    """The ``nn.Module`` class ``layer`` names (a ``pytorch_adapt.layers`` name) or is."""
    if isinstance(layer, str):
        layers = adapt_layers()
        cls = getattr(layers, layer, None)
        if cls is None:
            names = sorted(n for n in dir(layers) if n.endswith("Loss"))
            raise ValueError(
                f"PytorchAdaptLoss: pytorch_adapt.layers has no {layer!r}; its losses: "
                f"{', '.join(names)}"
            )
        layer = cls
    if not (isinstance(layer, type) and issubclass(layer, nn.Module)):
        raise ValueError(
            "PytorchAdaptLoss: layer must be a pytorch_adapt.layers name, an nn.Module class "
            f"or instance, got {layer!r}"
        )
    return layer


def _layer_params(layer: type, params: dict) -> dict:
    """``params`` checked against the constructor of ``layer`` (a class), as it takes them:
    an ``MMDLoss``'s list of ``kernel_scales`` (all a config or ``--set`` can give) as a
    tensor. A ``ValueError`` names what does not fit."""
    try:
        _bind(layer, params)
    except TypeError as exc:  # a typo in loss_params: a bare TypeError of the layer's
        raise ValueError(f"PytorchAdaptLoss: params do not fit {layer.__name__}: {exc}") from exc
    mmd = getattr(sys.modules.get("pytorch_adapt.layers"), "MMDLoss", None)
    if mmd is not None and issubclass(layer, mmd) and "kernel_scales" in params:
        params = {**params, "kernel_scales": _kernel_scales(params["kernel_scales"])}
    return params


def _bind(layer: type, params: dict) -> None:
    """``TypeError`` unless ``layer(**params)`` fits its constructors: each ``__init__`` of
    its classes in turn (a required argument missing included), as far as pytorch-adapt's
    own hand ``**kwargs`` on to their base (``MMDBatchedLoss(batch_size, **kwargs)`` to
    ``MMDLoss``); ``nn.Module``'s own, which reads ``(*args, **kwargs)``, takes none
    (``CORALLoss``: a typo there passed, then failed each run). Another class's
    ``**kwargs`` may go anywhere (an inner layer's constructor): taken as they are."""
    left = dict(params)
    for cls in layer.__mro__:
        if "__init__" not in vars(cls):
            continue
        if cls is nn.Module or cls is object:
            if left:
                raise TypeError(f"got unexpected keyword arguments {sorted(left)}")
            return
        signature = inspect.signature(cls.__init__)
        own = list(signature.parameters.values())[1:]  # self
        signature.replace(parameters=own).bind(**left)
        forwards = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in own)
        if not forwards or not cls.__module__.startswith("pytorch_adapt."):
            return
        taken = {p.name for p in own}
        left = {k: v for k, v in left.items() if k not in taken}


def _kernel_scales(scales):
    """``MMDLoss``'s ``kernel_scales``: a positive number, or several as a 1-d tensor. It
    takes a float or a tensor only: a list was multiplied as a Python list (repeated), a
    bare ``TypeError`` at the first batch; and it checks no sign (a negative scale is a
    kernel growing with distance)."""
    # numpy's scalars and arrays as Python's numbers and lists, a tensor's values too
    values = scales.tolist() if hasattr(scales, "tolist") else scales
    several = isinstance(values, (list, tuple))
    items = list(values) if several else [values]
    if not items or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 < v < float("inf")
        for v in items
    ):
        raise ValueError(
            "PytorchAdaptLoss: kernel_scales must be a positive number or a non-empty list "
            f"of them, got {scales!r}"
        )
    if isinstance(scales, torch.Tensor):
        return scales
    # float64: the layer casts it to its inputs' dtype at each call
    return torch.tensor(items, dtype=torch.float64) if several else float(values)


def _check_rows(layer: nn.Module, source, target, name: str) -> None:
    """``ValueError`` naming ``name`` when ``source`` ``(n_s, d)`` / ``target`` ``(n_t, d)``
    has too few rows for ``layer``, a pytorch-adapt ``MMDLoss`` (or subclass) or
    ``CORALLoss``; other layers are not checked."""
    layers = sys.modules.get("pytorch_adapt.layers")
    if layers is None:  # not imported: the layer is none of its classes
        return
    n_s, n_t = source.shape[0], target.shape[0]
    if isinstance(layer, layers.CORALLoss):
        # its covariances divide by n - 1: one row raised ZeroDivisionError
        if min(n_s, n_t) < 2:
            raise ValueError(
                f"{name} (CORALLoss): needs at least 2 rows per domain (covariances), got "
                f"{n_s} and {n_t}"
            )
    elif isinstance(layer, layers.MMDLoss):
        if min(n_s, n_t) < 2:
            raise ValueError(
                f"{name} ({type(layer).__name__}): needs at least 2 rows per domain, got "
                f"{n_s} and {n_t} (with one, its linear estimate is NaN and its quadratic "
                "one divides by zero)"
            )
        # Its median bandwidth is taken over all n_s^2 source pairs, the n_s zero
        # self-distances included: 0 for two rows, and the value was 0 with a NaN gradient.
        if layer.bandwidth is None and n_s < 3:
            raise ValueError(
                f"{name} ({type(layer).__name__}): needs at least 3 source rows for its "
                f"median bandwidth, got {n_s} (with 2 the zero self-distances are half the "
                "pairs: the bandwidth is 0, the value 0, the gradient NaN); or pass bandwidth="
            )


class PytorchAdaptLoss(AlignmentLoss):
    """A pytorch-adapt loss layer as a dtc loss.

    ``layer`` a name in ``pytorch_adapt.layers`` (``"MMDLoss"``), a layer class, or a built
    layer (then no ``params``); ``params`` go to the layer's constructor. The layer's
    parameters, if any, are this module's. ``loss(source (n_s, d), target (n_t, d))`` ->
    ``layer(source, target)``, a scalar; ``context`` is ignored. A layer without parameters
    computes half-precision inputs (float16, bfloat16) in float32, as dtc's own losses do,
    and its value comes back in their dtype.

    Batches too small for the layer are a ``ValueError``, for the layers whose needs are
    known: ``CORALLoss`` 2 rows per domain, ``MMDLoss`` 2 rows per domain and 3 source rows
    unless ``bandwidth`` is given (with 2 its median bandwidth is 0).
    """

    #: the layer built when none is named
    default_layer = "MMDLoss"

    def __init__(self, layer=None, **params):
        super().__init__()
        layer = self.default_layer if layer is None else layer
        self.layer = _resolve_layer(layer, params)
        self.has_parameters = any(True for _ in self.layer.parameters())

    @classmethod
    def check_loss_params(cls, params: dict) -> None:
        """``ValueError`` when ``params`` (a config's ``loss_params``) do not fit the layer
        they name, checked without building it: ``**params`` binds any name, and a typo
        passed a config's check, then failed each of its runs. Not for a subclass with an
        ``__init__`` of its own: its signature is checked, and it builds the layer as it
        chooses."""
        if cls.__init__ is not PytorchAdaptLoss.__init__:
            return
        params = dict(params)
        layer = params.pop("layer", cls.default_layer)
        if not isinstance(layer, nn.Module):
            _layer_params(_layer_class(layer), params)

    def _layer_inputs(self, source, target):
        """The two batches as the layer gets them (after the widening of half precision);
        a subclass may transform them, e.g. where the layer's arithmetic needs it."""
        return source, target

    def compute(self, source, target, **context):
        name, layer = type(self).__name__, type(self.layer).__name__
        _check_rows(self.layer, source, target, name)
        dtype = source.dtype
        if not self.has_parameters:
            # pytorch-adapt sums MMDLoss's (n, n) kernel matrices in the inputs' dtype:
            # float16 overflowed from about 500 rows (max 65504; 0.0289 in float32) and
            # the value was refused as if the bandwidth were at fault. (A layer's weights
            # fix its dtype: a layer with parameters gets the inputs as they are.)
            source, target = _widened(source), _widened(target)
        given = source, target  # as the user gave them: what an explanation names
        source, target = self._layer_inputs(source, target)
        try:
            value = self.layer(source, target)
        except ValueError as err:
            # pytorch-adapt's own message names neither the dtc loss nor the layer
            raise ValueError(f"{name} ({layer}): {err}") from err
        if not (isinstance(value, torch.Tensor) and value.dim() == 0):
            raise ValueError(
                f"{name}: {layer} returned "
                f"{type(value).__name__} {getattr(value, 'shape', '')}, expected a scalar tensor"
            )
        if not bool(torch.isfinite(value.detach())):
            self._explain_non_finite(*given)
            # the inputs were checked finite: the layer itself failed (MMDLoss's median
            # bandwidth is 0 when the source rows are all equal: exp(-0/0)); the advice
            # of the layer it is (bandwidth= was advised to a CORALLoss, a TypeError)
            mmd = getattr(sys.modules.get("pytorch_adapt.layers"), "MMDLoss", None)
            why = (
                "identical source rows make its median bandwidth 0? pass bandwidth=..."
                if mmd is not None and isinstance(self.layer, mmd)  # its subclasses too
                else "an overflow? standardise or rescale the features"
            )
            raise ValueError(f"{name}: {layer} returned {float(value)} on finite inputs ({why})")
        out = value.to(dtype)
        if not bool(torch.isfinite(out.detach())):
            # finite in float32, past the inputs' half precision (a CORAL of features of
            # std 30 and 60: 369946 in float16): refused, as dtc's own losses refuse it
            raise ValueError(
                f"{name}: {layer}'s value {float(value):g} overflows {dtype}; standardise or "
                "rescale the features, or pass float32 ones"
            )
        return out

    def _explain_non_finite(self, source, target) -> None:
        """Raise a more specific error for a non-finite value, where a subclass knows one."""


class PAMMDLoss(PytorchAdaptLoss):
    """pytorch-adapt's ``MMDLoss``, its implementation of DAN's multi-kernel MMD (Long et al.,
    ICML 2015, as its docstring cites) (``kernel_scales``, ``mmd_type`` ``"linear"`` (its
    default, equal batch sizes) or ``"quadratic"``, ``bandwidth``); registered as
    ``pa_mmd``. Its conventions differ from :mod:`dtc.align.mmd`'s, see there. Needs two
    samples per domain (with one, its linear estimate is NaN and its quadratic one
    divides by zero) and, unless ``bandwidth`` is given, three source samples: its median
    bandwidth includes the zero self-distances, so with two it is 0, the value 0 and the
    gradient NaN."""

    min_samples = 2

    # its parameters by name (pytorch-adapt 0.0.83's): a config's loss_params are checked
    # against them when it loads
    def __init__(self, kernel_scales=1, mmd_type="linear", dist_func=None, bandwidth=None):
        super().__init__(
            kernel_scales=kernel_scales,
            mmd_type=mmd_type,
            dist_func=dist_func,
            bandwidth=bandwidth,
        )
        self.mmd_type = mmd_type

    @classmethod
    def check_loss_params(cls, params: dict) -> None:
        """``ValueError`` for ``kernel_scales`` that are no positive number(s) (the names
        are checked against the signature)."""
        if cls.__init__ is PAMMDLoss.__init__ and "kernel_scales" in params:
            _kernel_scales(params["kernel_scales"])

    def compute(self, source, target, **context):
        # Named here: pytorch-adapt's own error does not say which dtc loss raised it.
        if self.mmd_type == "linear" and source.shape[0] != target.shape[0]:
            raise ValueError(
                f"PAMMDLoss: mmd_type='linear' pairs source and target rows, so it needs "
                f"batches of one size, got {source.shape[0]} and {target.shape[0]} rows; use "
                "mmd_type='quadratic', or dtc's 'mmd_linear', which takes unequal batches"
            )
        return super().compute(source, target, **context)

    def _explain_non_finite(self, source, target) -> None:
        # Its median bandwidth is 0 when most of the n^2 source pairs (self-pairs included)
        # coincide: the generic message says so. Otherwise the NaN comes from its squared
        # distances, expanded as |x|^2 + |y|^2 - 2 x.y in the inputs' dtype, which lose the
        # spread of features far from the origin (float32 rows at 1e4 +- 1: NaN), and the
        # message blamed identical source rows that were not there.
        x = source.detach()
        d2 = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist").square()
        if self.layer.bandwidth is None and not bool(d2.reshape(-1).median() > 0):
            return
        far = float(torch.cat([source, target]).detach().mean(0).abs().max())
        wider = ", or pass float64 ones" if source.dtype != torch.float64 else ""
        raise ValueError(
            f"{type(self).__name__}: MMDLoss returned NaN on finite inputs whose distances "
            f"are not 0: features far from the origin (column means up to {far:.3g}) lose "
            "their distances in its expansion |x|^2 + |y|^2 - 2 x.y; centre the features "
            f"(subtract their mean){wider}"
        )


class PACORALLoss(PytorchAdaptLoss):
    """pytorch-adapt's ``CORALLoss`` (Deep CORAL, Sun & Saenko, ECCV-W 2016); registered
    as ``pa_coral``."""

    min_samples = 2
    default_layer = "CORALLoss"

    def __init__(self):
        super().__init__()

    def _layer_inputs(self, source, target):
        # pytorch-adapt computes a covariance as (X'X - s s' / n) / (n - 1), which cancels in
        # float32 when the mean is large beside the spread (64 x 8 rows at 1e3 +- 1: 9 % off,
        # at 1e4 10,000 times, without a word). A covariance does not move with its own
        # domain's shift: each domain is centred first (its detached mean; half precision
        # already widened, where x - mean cannot overflow), the same loss and gradient,
        # computed where the expansion does not cancel.
        return source - source.mean(0).detach(), target - target.mean(0).detach()

    def _explain_non_finite(self, source, target) -> None:
        # features so large that their covariance overflows
        name = type(self).__name__
        for role, x in (("source", source), ("target", target)):
            _finite_covariance(x, role, name)
        # finite covariances whose difference squares past the dtype's range (the generic
        # message only guesses "an overflow?", naming no covariance)
        raise ValueError(
            f"{name}: the loss overflows {source.dtype} (finite covariances whose difference "
            "squares past its range); standardise or rescale the features"
        )
