"""Login throttling with its state in the database (security review M5).

Why these keys. A throttle on the typed name alone let anyone lock any account out (five wrong
passwords for `admin` every 15 minutes), let the e-mail alias double the budget, and, kept in each
process's memory, grew with every name tried and counted each task of the service apart. Here:

* **account + client address** (`pair:`): the account is the user the name *or* e-mail resolves to
  (both spellings share one budget); every unknown name shares one account, `?`, so inventing names
  buys nothing and adds no rows. Past `max_failures` that pair backs off: its delay doubles with each
  further failure, up to `cap_s`. It refuses the right password too (or the backoff would tell a
  guesser when it got it right), but only from that address: the owner elsewhere signs in as usual.
* **client address** (`addr:`): spraying many accounts from one address backs off past
  `ADDRESS_FACTOR` × `max_failures` failures, but, like the account key, not for an account that has
  signed in from that address before (a `known:` row). Many people share one address behind a
  corporate NAT: without the waiver one insider's 20 wrong tries, on any names, kept every caseworker
  of the office out. Of the two ways out (this waiver, or counting only unknown names on the key) the
  waiver is chosen: every failure still counts, so a spray from the address still backs off the names
  that have no history there (the ones a sprayer probes: new accounts, and every account for an
  outsider), while the regulars of the office sign in as usual; counting only unknown names would drop
  every cap on guesses at real names from one address but the pair's. A known account stays guarded
  from its own address by the pair key (5 free failures, then the backoff).
* **account** (`account:`): a guesser spread over many addresses. Past `ACCOUNT_FACTOR` ×
  `max_failures` failures the account backs off, but only for addresses it has never signed in from
  (`known:` rows, written at each success): the owner's usual address still gets in, so knowing the
  name is not enough to lock it out.

The client address is `request.remote_addr` after ProxyFix, so behind the load balancer
(`CALLCARE_WEB_PROXY_HOPS`) it is the client's; without the setting a forged X-Forwarded-For is ignored.
Rows are written only on failures and successes, never by a check, and each is forgotten `forget_s`
after its last failure once its block is over (`known:` rows after `KNOWN_S`): the table holds at most
what the failures of the last hour wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from callcare_web.models import utcnow
from callcare_web.tables import login_throttle

ADDRESS_FACTOR = 4
ACCOUNT_FACTOR = 10
KNOWN_S = 30 * 86400
UNKNOWN_ACCOUNT = "?"
MAX_ADDRESS = 64


@dataclass(frozen=True)
class Policy:
    max_failures: int = 5  # free failures of an (account, address) pair before it backs off
    first_delay_s: float = 30.0  # the first backoff; each further failure doubles it
    cap_s: float = 900.0  # the longest backoff

    @property
    def forget_s(self) -> float:
        """A key with no failure for this long (and no block left) starts again from zero."""
        return max(4 * self.cap_s, 3600.0)

    def delay_s(self, failures: int, threshold: int) -> float:
        if failures < threshold:
            return 0.0
        return min(self.first_delay_s * 2 ** min(failures - threshold, 32), self.cap_s)


def _retrying_once(write: Callable[[], None]) -> None:
    """Two tasks counting the first failure of one key both insert it: the loser reads it and counts again."""
    try:
        write()
    except sa.exc.IntegrityError:
        write()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timezone-aware columns back naive (in UTC)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class LoginThrottle:
    def __init__(
        self,
        engine: Callable[[], sa.Engine],
        policy: Policy,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self.policy = policy
        self.clock = clock

    @staticmethod
    def account_key(user_id: int | None) -> str:
        return UNKNOWN_ACCOUNT if user_id is None else str(user_id)

    def _thresholds(self, account: str, address: str) -> dict[str, int]:
        n = self.policy.max_failures
        keys = {f"pair:{account}|{address}": n, f"addr:{address}": ADDRESS_FACTOR * n}
        if account != UNKNOWN_ACCOUNT:
            keys[f"account:{account}"] = ACCOUNT_FACTOR * n
        return keys

    def retry_after(self, user_id: int | None, address: str) -> float:
        """Seconds until this account may try again from this address (0: now). Reads only."""
        account, address = self.account_key(user_id), address[:MAX_ADDRESS]
        keys = list(self._thresholds(account, address))
        now = self.clock()
        with self._engine().connect() as conn:
            rows = {
                r.key: r
                for r in conn.execute(
                    sa.select(login_throttle).where(
                        login_throttle.c.key.in_([*keys, f"known:{account}|{address}"])
                    )
                )
            }
        if f"known:{account}|{address}" in rows:  # the owner's own address (behind NAT: the office's)
            keys = [k for k in keys if not k.startswith(("account:", "addr:"))]
        waits = [
            (until - now).total_seconds()
            for k in keys
            if k in rows and (until := _aware(rows[k].blocked_until)) is not None and until > now
        ]
        return max(waits, default=0.0)

    def failed(self, user_id: int | None, address: str) -> None:
        """Count a failure on every key of the attempt, set each key's backoff, drop stale rows."""
        _retrying_once(lambda: self._failed(user_id, address))

    def _failed(self, user_id: int | None, address: str) -> None:
        account, address = self.account_key(user_id), address[:MAX_ADDRESS]
        now = self.clock()
        stale = now - dt.timedelta(seconds=self.policy.forget_s)
        with self._engine().begin() as conn:
            for key, threshold in self._thresholds(account, address).items():
                row = conn.execute(
                    sa.select(login_throttle.c.failures, login_throttle.c.last_at).where(
                        login_throttle.c.key == key
                    )
                ).first()
                fresh = row is not None and _aware(row.last_at) > stale  # type: ignore[operator]
                failures = (row.failures if fresh else 0) + 1  # type: ignore[union-attr]
                delay = self.policy.delay_s(failures, threshold)
                values = {
                    "failures": failures,
                    "last_at": now,
                    "blocked_until": now + dt.timedelta(seconds=delay) if delay else None,
                }
                if row is None:
                    conn.execute(login_throttle.insert().values(key=key, **values))
                else:
                    conn.execute(login_throttle.update().where(login_throttle.c.key == key).values(**values))
            self._prune(conn, now)

    def succeeded(self, user_id: int | None, address: str) -> None:
        """The pair starts again; the address becomes one the account is known to sign in from.

        The address and account counts stay: a guesser who owns one account must not reset them by
        signing in to it between guesses."""
        _retrying_once(lambda: self._succeeded(user_id, address))

    def _succeeded(self, user_id: int | None, address: str) -> None:
        account, address = self.account_key(user_id), address[:MAX_ADDRESS]
        now = self.clock()
        known = f"known:{account}|{address}"
        with self._engine().begin() as conn:
            conn.execute(login_throttle.delete().where(login_throttle.c.key == f"pair:{account}|{address}"))
            updated = conn.execute(
                login_throttle.update().where(login_throttle.c.key == known).values(last_at=now)
            ).rowcount
            if not updated:
                conn.execute(login_throttle.insert().values(key=known, failures=0, last_at=now))

    def _prune(self, conn: sa.Connection, now: dt.datetime) -> None:
        stale = now - dt.timedelta(seconds=self.policy.forget_s)
        conn.execute(
            login_throttle.delete().where(
                login_throttle.c.last_at < stale,
                ~login_throttle.c.key.startswith("known:"),
                sa.or_(login_throttle.c.blocked_until.is_(None), login_throttle.c.blocked_until < now),
            )
        )
        conn.execute(
            login_throttle.delete().where(
                login_throttle.c.key.startswith("known:"),
                login_throttle.c.last_at < now - dt.timedelta(seconds=KNOWN_S),
            )
        )
