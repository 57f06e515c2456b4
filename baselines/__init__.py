"""Baseline methods, one module per method, each registered under the ``dtc.methods``
entry-point group (see ``pyproject.toml``). dtc never imports this package."""
