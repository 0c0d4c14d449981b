"""What a list request asks for, read from its arguments: the pages and the API parse alike.

Parsing never fails: a bad value is dropped and said in `errors` (the pages show it, the API answers
400 with it), so a hand-edited URL still lists something.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from callcare.status import CallStatus

STATUSES = tuple(s.value for s in CallStatus)
SENTIMENTS = ("Positive", "Neutral", "Negative")
# the orders a list can take (queries.SORT_COLUMNS says which column each one means)
SORTS = ("created", "updated", "date", "status", "sentiment", "category", "agent", "duration", "assignee")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
    sort: str = "created"
    direction: str = "desc"
    page: int = 1
    page_size: int = 25
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, args: Any, page_size: int = 25, max_page_size: int = 100) -> Filters:
        f = cls(page_size=page_size)
        f.status = (args.get("status") or "").strip().upper()
        if f.status and f.status not in STATUSES:
            f.errors.append(f"unknown status {f.status!r}")
            f.status = ""
        for name in ("date_from", "date_to"):
            value = (args.get(name) or "").strip()
            if value and not _DATE.match(value):
                f.errors.append(f"{name} must be YYYY-MM-DD")
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
        if assignee and assignee not in ("me", "none") and not assignee.isdigit():
            f.errors.append("assignee must be me, none or a user id")
            assignee = ""
        f.assignee = assignee
        f.q = " ".join((args.get("q") or "").split())[:200]
        sort = (args.get("sort") or "created").strip()
        f.sort = sort if sort in SORTS else "created"
        f.direction = "asc" if (args.get("dir") or "").lower() == "asc" else "desc"
        try:
            f.page = max(1, int(args.get("page") or 1))
        except ValueError:
            f.page = 1
        try:
            f.page_size = min(max_page_size, max(1, int(args.get("page_size") or page_size)))
        except ValueError:
            f.page_size = page_size
        return f

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """The non-default parameters (for links that keep the current filters)."""
        values = {
            "status": self.status,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "sentiment": self.sentiment,
            "category": self.category,
            "agent": self.agent,
            "assignee": self.assignee,
            "q": self.q,
            "sort": self.sort if self.sort != "created" else "",
            "dir": self.direction if self.direction != "desc" else "",
            "page": self.page if self.page != 1 else "",
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None)}
