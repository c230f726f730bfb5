"""A small generated data set and a plain-Python model of the API's answers, for the engine tests."""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

TZ = "America/New_York"
EVENT_NAMES = ["Charged", "App Launched", "Viewed"]
PROFILE_SCOPE = {
    "Customer Type": "profile_fields",
    "Age": "demographics",
    "City": "geo_fields",
    "OS": "technographics",
}
START = date(2026, 3, 1)  # spans the DST change of 2026-03-08
DAYS = 20


def make_records(seed: int = 7, n: int = 600) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    tz = ZoneInfo(TZ)
    base = int(datetime(START.year, START.month, START.day, tzinfo=tz).timestamp())
    stamps = rnd.sample(range(base - 3600, base + DAYS * 86400 + 3600), n)
    records = []
    for i, ts in enumerate(sorted(stamps)):
        rec: dict[str, Any] = {"event_name": rnd.choice(EVENT_NAMES)}
        rec["ts"] = int(datetime.fromtimestamp(ts, tz).strftime("%Y%m%d%H%M%S")) if i % 2 else ts
        profile: dict[str, Any] = {"identity": f"u{rnd.randrange(12)}"}
        data: dict[str, Any] = {}
        if rnd.random() < 0.6:
            data["Customer Type"] = rnd.choice(["Gold", "Silver", "Bronze"])
        if rnd.random() < 0.3:
            data["Age"] = rnd.choice([19, 23.5, 31, 44, 67])
        if rnd.random() < 0.4:
            data["City"] = rnd.choice(["Pune", "Delhi", "Oslo"])
        if rnd.random() < 0.4:
            data["OS"] = rnd.choice(["Android", "iOS"])
        if data:
            profile["profileData"] = data
        if rnd.random() < 0.5:
            profile["platform"] = rnd.choice(["Android", "iOS", "Web"])
        rec["profile"] = profile
        props: dict[str, Any] = {}
        r = rnd.random()
        if r < 0.7:
            props["Amount"] = rnd.choice([0, 3, 7, 12, 99, 150, 999, 1000, 2.5, -4])
        elif r < 0.85:
            props["Amount"] = rnd.choice(["free", "n/a"])
        if rnd.random() < 0.8:
            props["Product"] = rnd.choice(["Shoes", "Hat", "Bag", "Belt"])
        if rnd.random() < 0.5:
            props["Due"] = f"$D_{ts + rnd.choice([0, 86400, 5 * 86400, 40 * 86400])}"
        if rnd.random() < 0.3:
            props["Gift"] = rnd.choice([True, False])
        rec["event_props"] = props
        if rnd.random() < 0.7:
            rec["session_props"] = {"utm_source": rnd.choice(["google", "fb", "direct"])}
        records.append(rec)
    return records


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


class Reference:
    """Answers computed the slow, obvious way."""

    def __init__(self, records: list[dict[str, Any]], tz: str = TZ) -> None:
        self.tz = ZoneInfo(tz)
        self.rows = []
        for rec in records:
            ts = rec["ts"]
            if ts > 10**12:
                local = datetime.strptime(str(ts), "%Y%m%d%H%M%S").replace(tzinfo=self.tz)
                ts = int(local.timestamp())
            self.rows.append((ts, rec))
        self.rows.sort(key=lambda r: r[0])
        self.latest: dict[str, dict[tuple[str, str], Any]] = defaultdict(dict)
        for _ts, rec in self.rows:
            prof = rec["profile"]
            for name, value in prof.get("profileData", {}).items():
                self.latest[prof["identity"]][(PROFILE_SCOPE[name], name)] = value
            if "platform" in prof:
                self.latest[prof["identity"]][("technographics", "platform")] = prof["platform"]

    def day(self, ts: int) -> date:
        return datetime.fromtimestamp(ts, self.tz).date()

    def selected(self, event: str, lo: date, hi: date) -> list[tuple[int, dict[str, Any]]]:
        return [
            (t, r) for t, r in self.rows if r["event_name"] == event and lo <= self.day(t) <= hi
        ]

    def value(self, ts: int, rec: dict[str, Any], scope: str, name: str) -> Any:
        if scope == "event_properties":
            return rec.get("event_props", {}).get(name)
        if scope == "session_properties":
            if name == "time_of_day":
                return f"{datetime.fromtimestamp(ts, self.tz).hour:02d}"
            return rec.get("session_props", {}).get(name)
        return self.latest[rec["profile"]["identity"]].get((scope, name))

    def top(self, event: str, lo: date, hi: date, group: dict[str, Any]) -> dict[str, Any]:
        scope, name = group["property_type"], group["name"]
        by_type: dict[str, Counter[Any]] = defaultdict(Counter)
        for ts, rec in self.selected(event, lo, hi):
            v = self.value(ts, rec, scope, name)
            if v is None:
                by_type["STR"]["-1"] += 1
            elif isinstance(v, bool):
                by_type["STR"][str(v).lower()] += 1
            elif isinstance(v, (int, float)):
                by_type["NUMBER"][v] += 1
            elif v.startswith("$D_"):
                by_type["DATE"][int(v[3:])] += 1
            else:
                by_type["ENUM" if scope == "technographics" else "STR"][v] += 1
        out = {}
        for typ, counts in by_type.items():
            if typ in ("NUMBER", "DATE"):
                counts = buckets(counts, 86400 if typ == "DATE" else 1)
            ranked = sorted(
                counts.items(),
                key=lambda kv: (kv[1] if group.get("order") == "asc" else -kv[1], kv[0]),
            )[: group.get("top_n", 10)]
            out[typ] = {(f"{k[0]}-{k[1]}" if isinstance(k, tuple) else k): n for k, n in ranked}
        return out

    def count(self, event: str, lo: date, hi: date, unique: bool) -> int:
        rows = self.selected(event, lo, hi)
        return len({r["profile"]["identity"] for _, r in rows}) if unique else len(rows)

    def trend(
        self, event: str, lo: date, hi: date, kind: str, unique: bool, prop: str | None
    ) -> dict[str, Any]:
        def key(d: date) -> date:
            if kind == "weekly":
                return d - timedelta(days=d.weekday())
            if kind == "monthly":
                return d.replace(day=1)
            return d

        out: dict[str, Any] = {}
        d = lo
        while d <= hi:
            out.setdefault(key(d).strftime("%Y%m%d"), set() if unique else 0)
            d += timedelta(days=1)
        for ts, rec in self.selected(event, lo, hi):
            k = key(self.day(ts)).strftime("%Y%m%d")
            if unique:
                out[k].add(rec["profile"]["identity"])
            elif prop:
                v = rec.get("event_props", {}).get(prop)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[k] += v
            else:
                out[k] += 1
        return {k: len(v) if unique else v for k, v in out.items()}


def buckets(counts: Counter[Any], unit: int) -> Counter[Any]:
    lo, hi = min(counts), max(counts)
    widths = [unit * m * 10**e for e in range(30) for m in (1, 2, 5)]
    w = next(w for w in widths if math.floor(hi / w) - math.floor(lo / w) + 1 <= 10)
    out: Counter[Any] = Counter()
    for v, n in counts.items():
        k = math.floor(v / w)
        out[(k * w, (k + 1) * w)] += n
    return out
