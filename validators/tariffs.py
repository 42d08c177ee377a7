"""The tariff as the rules consult it: items by day, then by code.

TariffBook.item(code, on) is a method call and a tuple key per line; the rules ask it once
per (day, code) through this index and then read a plain dict. One index is kept per
book, so every submission checked against the same book shares what was already asked.
"""

from __future__ import annotations

from datetime import date

from gateway.domain.tariff import TariffBook, TariffItem

_MAX_DAYS = 1_000  # days remembered per book before starting afresh
_MAX_CODES = 20_000  # codes remembered per day before starting afresh
_MAX_BOOKS = 4


class DayItems(dict[str, TariffItem | None]):
    """The items in force on one day, by code; each asked of the book on first use."""

    __slots__ = ("book", "day")

    def __init__(self, book: TariffBook, day: date) -> None:
        super().__init__()
        self.book, self.day = book, day

    def __missing__(self, code: str) -> TariffItem | None:
        if len(self) >= _MAX_CODES:
            self.clear()
        item = self[code] = self.book.item(code, self.day)
        return item


class TariffIndex:
    __slots__ = ("_days", "book")

    def __init__(self, book: TariffBook) -> None:
        self.book = book
        self._days: dict[date, DayItems] = {}

    def on(self, day: date) -> DayItems:
        items = self._days.get(day)
        if items is None:
            if len(self._days) >= _MAX_DAYS:
                self._days.clear()
            items = self._days[day] = DayItems(self.book, day)
        return items


_indexes: dict[int, TariffIndex] = {}


def tariff_index(book: TariffBook) -> TariffIndex:
    """The index of this book (kept by the book's identity; the index holds the book, so
    the identity cannot be reused while it is kept)."""
    index = _indexes.get(id(book))
    if index is None or index.book is not book:
        if len(_indexes) >= _MAX_BOOKS:
            _indexes.clear()
        index = _indexes[id(book)] = TariffIndex(book)
    return index
