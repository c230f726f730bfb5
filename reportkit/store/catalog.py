"""Which event and property names a source holds: `reportkit catalog`, and the names that
`validate --source` checks definitions against.

A local store (the demo's too) knows every name it holds, so its catalog is complete: events
with their count over a window, event and session properties with the number of those events that
carry them, and profile properties with the number of profiles that have a value. CleverTap has no
API that lists names, so its catalog is what earlier answers in the answer cache show: the events
and properties that were asked for and answered, without counts. That catalog is partial: a name
missing from it may still exist.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from reportkit.language.spec import NameReference
from reportkit.language.yamldoc import clip
from reportkit.store import EVENT_SCOPES, SCOPES, connect, is_initialized, load_catalog

# Always answered by the engine (the local hour of the event), though no column holds it.
VIRTUAL_PROPERTIES = (("session_properties", "time_of_day", "STR"),)


@dataclass(frozen=True, slots=True)
class PropertyEntry:
    """One property: its property_type (scope), name, value type and how often it has a value
    (events carrying it, or profiles having it; None when the source cannot count)."""

    scope: str
    name: str
    type: str
    count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "name": self.name, "type": self.type, "count": self.count}


@dataclass(frozen=True, slots=True)
class EventEntry:
    name: str
    count: int | None
    properties: tuple[PropertyEntry, ...] = ()  # event and session properties

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "properties": [p.to_dict() for p in self.properties],
        }


@dataclass(frozen=True, slots=True)
class NameCatalog:
    """What a source holds. `complete` is False when a missing name may still exist."""

    source: str
    complete: bool
    window: tuple[date, date] | None
    events: tuple[EventEntry, ...]
    profile: tuple[PropertyEntry, ...]  # profile fields, demographics, geo, ... (per profile)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "complete": self.complete,
            "window": None
            if self.window is None
            else {"from": self.window[0].isoformat(), "to": self.window[1].isoformat()},
            "events": [e.to_dict() for e in self.events],
            "profile": [p.to_dict() for p in self.profile],
        }

    @property
    def event_names(self) -> frozenset[str]:
        return frozenset(e.name for e in self.events)

    def property_names(self, scope: str) -> frozenset[str]:
        found = {p.name for p in self.profile if p.scope == scope}
        found |= {p.name for e in self.events for p in e.properties if p.scope == scope}
        found |= {name for s, name, _ in VIRTUAL_PROPERTIES if s == scope}
        return frozenset(found)


def store_catalog(path: Path, source: str, window: tuple[date, date] | None) -> NameCatalog:
    """The catalog of a DuckDB store: every event, counted over `window` (or all the store's
    days), with the event and session properties its events carry there; every profile property
    with the number of profiles that have a value."""
    con = connect(path, read_only=True)
    try:
        if not is_initialized(con):
            return NameCatalog(source, True, window, (), ())
        catalog = load_catalog(con)
        event_cols = sorted(
            (c for cols in catalog.columns.values() for c in cols if c.table == "events"),
            key=lambda c: (c.scope, c.name, c.type),
        )
        profile_cols = sorted(
            (c for cols in catalog.columns.values() for c in cols if c.table == "profiles"),
            key=lambda c: (c.scope, c.name, c.type),
        )
        where, params = "", []
        if window is not None:
            where, params = " WHERE day BETWEEN ? AND ?", [window[0], window[1]]
        counts = "".join(f", count({c.col})" for c in event_cols)
        rows = con.execute(
            f"SELECT eid, count(*){counts} FROM events{where} GROUP BY eid", params
        ).fetchall()
        by_eid = {int(r[0]): r[1:] for r in rows}
        events = []
        for name, eid in sorted(catalog.events.items()):
            row = by_eid.get(eid)
            total = int(row[0]) if row else 0
            props = [
                PropertyEntry(c.scope, c.name, c.type, int(row[i + 1]) if row else 0)
                for i, c in enumerate(event_cols)
            ]
            props += [PropertyEntry(s, n, t, total) for s, n, t in VIRTUAL_PROPERTIES]
            events.append(EventEntry(name, total, tuple(p for p in props if p.count)))
        profile: list[PropertyEntry] = []
        if profile_cols:
            counted = con.execute(
                "SELECT " + ", ".join(f"count({c.col})" for c in profile_cols) + " FROM profiles"
            ).fetchone()
            profile = [
                PropertyEntry(c.scope, c.name, c.type, int(counted[i]) if counted else 0)
                for i, c in enumerate(profile_cols)
            ]
        return NameCatalog(source, True, window, tuple(events), tuple(profile))
    finally:
        con.close()


def cache_catalog(cache_root: Path, namespace_prefix: str = "clevertap:") -> NameCatalog:
    """What earlier answers in the answer cache show about a CleverTap account: the events asked
    for and the properties (with the value types) their answers held. Partial by nature."""
    events: dict[str, dict[tuple[str, str, str], None]] = {}
    profile: dict[tuple[str, str, str], None] = {}
    for entry in _cache_entries(cache_root):
        identity, body = entry.get("identity"), entry.get("body")
        if not isinstance(identity, str) or not isinstance(body, dict):
            continue
        namespace, _, key = identity.partition("\n")
        endpoint, _, request_json = key.partition(" ")
        if not namespace.startswith(namespace_prefix):
            continue
        try:
            request = json.loads(request_json)
        except ValueError:
            continue
        name = request.get("event_name") if isinstance(request, dict) else None
        if not isinstance(name, str):
            continue
        props = events.setdefault(name, {})
        groups = request.get("groups") if endpoint.endswith("top.json") else None
        for key_name, group in (groups or {}).items():
            if not isinstance(group, dict) or group.get("property_type") not in SCOPES:
                continue
            answer = body.get(key_name)
            types = [t for t in answer if isinstance(t, str)] if isinstance(answer, dict) else []
            for typ in types or ["?"]:
                found = (str(group["property_type"]), str(group.get("name")), typ)
                (props if found[0] in EVENT_SCOPES else profile)[found] = None
    return NameCatalog(
        f"{namespace_prefix.rstrip(':@')} (answer cache)",
        False,
        None,
        tuple(
            EventEntry(name, None, tuple(PropertyEntry(*p) for p in sorted(props)))
            for name, props in sorted(events.items())
        ),
        tuple(PropertyEntry(*p) for p in sorted(profile)),
    )


def _cache_entries(root: Path) -> Iterable[dict[str, Any]]:
    if not root.is_dir():
        return
    for path in sorted(root.glob("*/*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict):
            yield entry


def near_miss(name: str, known: Iterable[str]) -> str | None:
    """The known name a misspelt one most likely meant: the same name in another case first,
    then the closest spelling."""
    names = sorted(set(known))
    folded = [k for k in names if k.casefold() == name.casefold()]
    if folded:
        return folded[0]
    by_fold = {k.casefold(): k for k in names}
    close = difflib.get_close_matches(name.casefold(), list(by_fold), n=1, cutoff=0.75)
    return by_fold[close[0]] if close else None


def check_names(references: Iterable[NameReference], catalog: NameCatalog) -> list[str]:
    """One located line per name the catalog does not hold, with a did-you-mean when a name
    it holds is close. Against a partial catalog (CleverTap's cache) only near misses count:
    a name it has not seen may still exist."""
    problems: list[str] = []
    for ref in references:
        if ref.scope is None:
            known, what = catalog.event_names, "event"
        else:
            known, what = catalog.property_names(ref.scope), f"{ref.scope} property"
        if ref.name in known:
            continue
        hint = near_miss(ref.name, known)
        other = ""  # the property_type of a hint found under another one
        if hint is None and ref.scope is not None:
            for scope in SCOPES:
                hint = near_miss(ref.name, catalog.property_names(scope))
                if hint is not None:
                    other = scope
                    break
        if not catalog.complete and hint is None:
            continue
        if catalog.complete:
            message = f"no {what} {clip(ref.name)} in {catalog.source}"
        else:
            message = f"{what} {clip(ref.name)} is not among the names {catalog.source} shows"
        if hint is not None and other:
            message += f"; did you mean {hint!r} (property_type: {other})?"
        elif hint is not None:
            message += f"; did you mean {hint!r}?"
        problems.append(f"{ref.located}: {message}")
    return problems
