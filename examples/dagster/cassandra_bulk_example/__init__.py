"""The example as a ``dg`` project: the same two assets as ``../definitions.py``, declared in YAML."""
