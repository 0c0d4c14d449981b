"""What a list request asks for, read from its arguments: the pages and the API parse alike.

Parsing never fails: a bad value is dropped and said in `errors` (the pages show it, the API answers
400 with it), so a hand-edited URL still lists something.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
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
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,512}$")


@dataclass(frozen=True)
class Cursor:
    """A place in a list: the sort key of one row (its sort value, None in the NULLs at the end, and its
    call id), for keyset paging. `after` lists the rows past it, `before` the rows ahead of it.

    Opaque to clients (base64url JSON), not secret: it holds one row's sort value and call id, and the
    scope and filters apply to the page it opens as to any other. It says which order it belongs to,
    so a link kept from another order is refused rather than read as a place in this one.
    """

    sort: str
    direction: str
    value: str | float | None
    call_id: str

    def encode(self) -> str:
        raw = json.dumps([self.sort, self.direction, self.value, self.call_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        if not _CURSOR.match(token):
            return None
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError):
            return None
        if not (isinstance(raw, list) and len(raw) == 4):
            return None
        sort, direction, value, call_id = raw
        if sort not in SORTS or sort == RELEVANCE or direction not in ("asc", "desc"):
            return None
        if not isinstance(call_id, str) or len(call_id) > 64:
            return None
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
            return None
        return cls(sort, direction, value, call_id)


# The most search text taken: the API refuses more (its document says so), the page's form cuts it
MAX_SEARCH_CHARS = 200


def clean_terms(raw: str | None) -> str:
    """Search terms as searched: whitespace collapsed, at most MAX_SEARCH_CHARS characters."""
    return " ".join((raw or "").split())[:MAX_SEARCH_CHARS]


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
    # keyset paging: the rows after (or before) this place in the list's order; `page` is then the
    # number shown, not an offset
    after: Cursor | None = None
    before: Cursor | None = None
    errors: list[str] = field(default_factory=list)
    # what was read otherwise than asked, without making the request wrong (the pages show it, the
    # API does not refuse it): a page link whose cursor is unreadable or from another order is
    # served by its page number
    notices: list[str] = field(default_factory=list)
    sort_given: bool = False
    page_size_given: bool = False  # asked for (links keep it: a page's place depends on its size)

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
        f.page_size_given = f.page_size != page_size
        for name in ("after", "before"):
            raw = args.get(name) or ""
            if not raw:
                continue
            if not _CURSOR.match(raw):  # not even the cursor's alphabet: a wrong request
                f.errors.append(f"{name} must be a page cursor: letters, digits, - and _")
                continue
            cursor = Cursor.decode(raw)
            if cursor is None:  # well formed, but not a place this list made: served by number
                f.notices.append("That page link is not one this list made: showing the page by its number.")
            elif not (f.after or f.before):  # both: the first (after) wins
                setattr(f, name, cursor)
        return f

    def cursor_fits(self, sort: str) -> bool:
        """Whether the request's cursor (if any) is a place in this order (`sort` as the list applies it).

        A cursor from another order (a kept link, an edited URL) is dropped, with a notice: the page
        number then applies as an offset."""
        cursor = self.after or self.before
        if cursor is None:
            return False
        if cursor.sort == sort and cursor.direction == self.direction:
            return True
        self.notices.append("That page link belongs to another order: showing the page by its number.")
        self.after = self.before = None
        return False

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
        browser history (security review L8). A keyset cursor (`after`, `before`) is a place in one
        order and one set of filters, so only a link that asks for it carries one.
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
            "page_size": self.page_size if self.page_size_given else "",
        }
        values.update(changes)
        for name in ("after", "before"):
            if isinstance(values.get(name), Cursor):
                values[name] = values[name].encode()
        return {k: v for k, v in values.items() if v not in ("", None)}
