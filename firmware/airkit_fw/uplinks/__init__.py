"""The uplinks: one module per service, each with its declaration (``<type>_spec.py``);
the registry is ``registry.py``, delivery ``base.py``. Empty on purpose: the package
stays loaded while the station runs, its registry does not."""
