"""``python -m dtc``: the ``dtc`` command, for an environment whose scripts folder is not
on the PATH (a venv not activated, a cluster job's bare interpreter)."""

from dtc.cli import main

if __name__ == "__main__":
    main()
