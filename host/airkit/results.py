"""Results the library returns: dataclasses, readable as attributes (``r.files_sent``) and, for the
programs written against the earlier dict results, by key (``r["files_sent"]``, ``r.get(...)``,
``dict(r)``, ``json.dumps(r.to_dict())``)."""

from __future__ import annotations

from dataclasses import asdict, fields


class Result:
    """Mixin for a dataclass: attribute access first, the mapping protocol for compatibility."""

    def __getitem__(self, key):
        if key in self.keys():
            return getattr(self, key)
        raise KeyError(key)

    def __setitem__(self, key, value):
        if key not in self.keys():
            raise KeyError(key)
        setattr(self, key, value)

    def __contains__(self, key):
        return key in self.keys()

    def __iter__(self):
        return iter(self.keys())

    def get(self, key, default=None):
        return getattr(self, key, default) if key in self.keys() else default

    def keys(self):
        return [f.name for f in fields(self)]

    def items(self):
        return [(k, getattr(self, k)) for k in self.keys()]

    def to_dict(self) -> dict:
        return asdict(self)
