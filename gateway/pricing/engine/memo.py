"""Values derived from immutable objects that many lines share, computed once per object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ByIdentity(Generic[K, V]):
    """``compute(key)``, remembered per key object. By identity, not equality: equal keys
    may need different values (Decimal 0.3 and 0.30 print differently), and hashing a
    dataclass costs more than the lookup saves. Each key is held, so its id is not reused.
    """

    def __init__(self, compute: Callable[[K], V], limit: int = 10_000) -> None:
        self._compute = compute
        self._limit = limit
        self._known: dict[int, tuple[K, V]] = {}

    def __call__(self, key: K) -> V:
        known = self._known.get(id(key))
        if known is not None and known[0] is key:
            return known[1]
        value = self._compute(key)
        if len(self._known) >= self._limit:
            self._known.clear()
        self._known[id(key)] = (key, value)
        return value
