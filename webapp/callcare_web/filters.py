"""What a list request asks for, read from its arguments: the pages and the API parse alike.

Parsing never fails: a bad value is dropped and said in `errors` (the pages show it, the API answers
400 with it), so a hand-edited URL still lists something.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from callcare.status import CallStatus

STATUSES = tuple(s.value for s in CallStatus)
SENTIMENTS = ("Positive", "Neutral", "Negative")
# the orders a list can take (queries.SORT_COLUMNS says which column each one means); a search's
# default is relevance, a list's is created (relevance without a search lists by created)
RELEVANCE = "relevance"
SORTS = (
    "created",
    "updated",
    "date",
    "status",
    "sentiment",
    "category",
    "agent",
    "duration",
    "assignee",
    RELEVANCE,
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WHOLE = re.compile(r"^[0-9]+$")
_ASSIGNEE = re.compile(r"^(me|none|[0-9]{1,9})$")
# the last page a list goes to (25 000 calls at 25 a page; searches and filters narrow past that)
MAX_PAGE = 10_000


def clean_terms(raw: str | None) -> str:
    """Search terms as searched: whitespace collapsed, at most 200 characters."""
    return " ".join((raw or "").split())[:200]


def _is_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return bool(_DATE.match(value))


@dataclass
class Filters:
    status: str = ""
    date_from: str = ""
    date_to: str = ""
    sentiment: str = ""
    category: str = ""
    agent: str = ""
    assignee: str = ""  # "", "me", "none" or a user id
    q: str = ""
    search: str = ""  # the pages' handle on a search kept in the session (the terms stay out of URLs)
    sort: str = "created"
    direction: str = "desc"
    page: int = 1
    page_size: int = 25
    errors: list[str] = field(default_factory=list)
    sort_given: bool = False

    @classmethod
    def parse(cls, args: Any, page_size: int = 25, max_page_size: int = 100) -> Filters:
        f = cls(page_size=page_size)
        f.status = (args.get("status") or "").strip().upper()
        if f.status and f.status not in STATUSES:
            f.errors.append(f"unknown status {f.status!r}")
            f.status = ""
        for name in ("date_from", "date_to"):
            value = (args.get(name) or "").strip()
            if value and not _is_date(value):
                f.errors.append(f"{name} must be a date, YYYY-MM-DD")
                value = ""
            setattr(f, name, value)
        sentiment = (args.get("sentiment") or "").strip().capitalize()
        if sentiment and sentiment not in SENTIMENTS:
            f.errors.append(f"unknown sentiment {sentiment!r}")
            sentiment = ""
        f.sentiment = sentiment
        f.category = (args.get("category") or "").strip()[:64]
        f.agent = (args.get("agent") or "").strip()[:64]
        assignee = (args.get("assignee") or "").strip().lower()
        if assignee and not _ASSIGNEE.match(assignee):
            f.errors.append("assignee must be me, none or a user id")
            assignee = ""
        f.assignee = assignee
        f.q = clean_terms(args.get("q"))
        sort = (args.get("sort") or "").strip()
        if sort and sort not in SORTS:
            f.errors.append(f"sort must be one of {', '.join(SORTS)}")
            sort = ""
        f.sort_given = bool(sort)
        f.sort = sort or f.default_sort
        direction = (args.get("dir") or "desc").strip().lower()
        if direction not in ("asc", "desc"):
            f.errors.append("dir must be asc or desc")
            direction = "desc"
        f.direction = direction
        f.page = f._whole(args.get("page"), "page", 1, MAX_PAGE, 1)
        f.page_size = f._whole(args.get("page_size"), "page_size", 1, max_page_size, page_size)
        return f

    def _whole(self, raw: str | None, name: str, low: int, high: int, default: int) -> int:
        """A whole number in [low, high]; anything else is an error and the nearest allowed value.

        Bounded before it reaches SQL: page=99999999999999999999 made an OFFSET no database integer
        holds, and the driver's OverflowError was a 500 (security review L5).
        """
        raw = (raw or "").strip()
        if not raw:
            return default
        if not _WHOLE.match(raw):
            self.errors.append(f"{name} must be a whole number from {low} to {high}")
            return default
        value = int(raw[:12])  # past 12 digits it is over every bound anyway
        if not low <= value <= high:
            self.errors.append(f"{name} must be a whole number from {low} to {high}")
            return min(max(value, low), high)
        return value

    @property
    def default_sort(self) -> str:
        return RELEVANCE if self.q else "created"

    def use_search(self, q: str, handle: str = "") -> None:
        """Search for `q` (read from the session or a request body after parsing): relevance first,
        unless the request asked for an order."""
        self.q = clean_terms(q)
        self.search = handle if self.q else ""
        if not self.sort_given:
            self.sort = self.default_sort

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """The non-default parameters (for links that keep the current filters).

        A search goes by its handle (`search`), never its terms: links end up in access logs and
        browser history (security review L8).
        """
        values = {
            "status": self.status,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "sentiment": self.sentiment,
            "category": self.category,
            "agent": self.agent,
            "assignee": self.assignee,
            "search": self.search,
            "sort": self.sort if self.sort != self.default_sort else "",
            "dir": self.direction if self.direction != "desc" else "",
            "page": self.page if self.page != 1 else "",
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None)}
