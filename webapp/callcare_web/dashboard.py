"""The supervisor dashboard's figures, read from the call registry.

The warehouse marts (dbt) do not exist yet; when they do, `build` should read them instead. The
registry holds the same facts per call (date, status, sentiment, category, agent, duration,
escalated, resolved), so the figures agree with what the marts will hold.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import sqlalchemy as sa
from callcare.core.registry import calls
from sqlalchemy.engine import Connection

SENTIMENT_COLOURS = {"Positive": "#3c9a5f", "Neutral": "#9aa5b1", "Negative": "#d64545"}
CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 640, 220, 36, 28, 10


def build(conn: Connection, days: int, today: dt.date | None = None) -> dict[str, Any]:
    today = today or dt.datetime.now(dt.UTC).date()
    since = (today - dt.timedelta(days=days - 1)).isoformat()
    rows = conn.execute(
        sa.select(
            calls.c.call_date,
            calls.c.status,
            calls.c.sentiment,
            calls.c.category,
            calls.c.agent_id,
            calls.c.duration_s,
            calls.c.escalated,
            calls.c.resolved,
        ).where(calls.c.call_date >= since)
    ).all()
    per_day: Counter[str] = Counter()
    sentiment_day: dict[str, Counter[str]] = defaultdict(Counter)
    categories: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    agents: dict[str, dict[str, Any]] = {}
    for r in rows:
        per_day[r.call_date] += 1
        statuses[r.status] += 1
        if r.sentiment:
            sentiment_day[r.call_date][r.sentiment] += 1
        if r.category:
            categories[r.category] += 1
        if r.status == "COMPLETED":
            a = agents.setdefault(
                r.agent_id or "(not said)",
                {"calls": 0, "duration": 0.0, "negative": 0, "escalated": 0, "resolved": 0},
            )
            a["calls"] += 1
            a["duration"] += r.duration_s or 0.0
            a["negative"] += r.sentiment == "Negative"
            a["escalated"] += bool(r.escalated)
            a["resolved"] += bool(r.resolved)
    dates = [(today - dt.timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]
    completed = sum(a["calls"] for a in agents.values())
    agent_rows = sorted(
        (
            {
                "agent_id": agent,
                "calls": a["calls"],
                "avg_duration_s": a["duration"] / a["calls"],
                "negative_pct": 100.0 * a["negative"] / a["calls"],
                "escalated_pct": 100.0 * a["escalated"] / a["calls"],
                "resolved_pct": 100.0 * a["resolved"] / a["calls"],
            }
            for agent, a in agents.items()
        ),
        key=lambda x: (-x["calls"], x["agent_id"]),
    )
    negative = sum(c["Negative"] for c in sentiment_day.values())
    escalated = sum(a["escalated"] for a in agents.values())
    return {
        "source": "call registry (live; the warehouse marts will replace it)",
        "since": since,
        "totals": {
            "calls": len(rows),
            "completed": statuses.get("COMPLETED", 0),
            "failed": statuses.get("FAILED", 0),
            "in_progress": len(rows) - statuses.get("COMPLETED", 0) - statuses.get("FAILED", 0),
            "negative": negative,
            "escalated": escalated,
            "completed_share": completed,
        },
        "calls_per_day": bar_chart(dates, [[("Calls", per_day.get(d, 0), "#337ab7")] for d in dates]),
        "sentiment_trend": bar_chart(
            dates,
            [
                [(s, sentiment_day[d].get(s, 0), colour) for s, colour in SENTIMENT_COLOURS.items()]
                for d in dates
            ],
        ),
        "sentiment_legend": list(SENTIMENT_COLOURS.items()),
        "top_categories": hbar_chart(categories.most_common(8)),
        "agents": agent_rows,
    }


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if value <= step * 4:
            return step * 4
    return value


def bar_chart(labels: list[str], stacks: list[list[tuple[str, int, str]]]) -> dict[str, Any]:
    """Stacked vertical bars as SVG geometry (one stack per label)."""
    top = _nice_max(max((sum(v for _, v, _ in s) for s in stacks), default=0) or 1)
    inner_w = CHART_W - PAD_L - 4
    inner_h = CHART_H - PAD_B - PAD_T
    slot = inner_w / max(1, len(labels))
    bars = []
    for i, (label, stack) in enumerate(zip(labels, stacks, strict=True)):
        y = PAD_T + inner_h
        for name, value, colour in stack:
            if not value:
                continue
            h = inner_h * value / top
            y -= h
            bars.append(
                {
                    "x": round(PAD_L + i * slot + slot * 0.12, 1),
                    "y": round(y, 1),
                    "w": round(max(1.0, slot * 0.76), 1),
                    "h": round(h, 1),
                    "colour": colour,
                    "title": f"{label}: {value} {name.lower()}",
                }
            )
    ticks = [{"y": round(PAD_T + inner_h - inner_h * k / 4, 1), "value": top * k // 4} for k in range(5)]
    step = max(1, len(labels) // 6)
    xlabels = [
        {"x": round(PAD_L + i * slot + slot / 2, 1), "text": label[5:]}
        for i, label in enumerate(labels)
        if i % step == 0
    ]
    return {
        "w": CHART_W,
        "h": CHART_H,
        "bars": bars,
        "ticks": ticks,
        "xlabels": xlabels,
        "pad_l": PAD_L,
        "base_y": PAD_T + inner_h,
        "empty": not bars,
    }


def hbar_chart(items: list[tuple[str, int]]) -> dict[str, Any]:
    top = max((v for _, v in items), default=1) or 1
    rows = []
    for i, (label, value) in enumerate(items):
        rows.append({"y": 8 + i * 28, "label": label, "value": value, "w": round(380 * value / top, 1)})
    return {"w": CHART_W, "h": 16 + 28 * max(1, len(items)), "rows": rows, "empty": not rows}
