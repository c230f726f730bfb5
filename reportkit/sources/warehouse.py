"""The warehouse source: the four count answers from one flat events table, through ibis.

`--source warehouse:URL` reads the flat layout `reportkit export` writes (docs/warehouse.md):
`event_name`, `ts` (epoch seconds or a timestamp), `identity`, `platform` and one column per
property, `event.NAME`, `session.NAME`, `profile.NAME`, `PROPERTY_TYPE.NAME`, or the same with
`__` for the first dot (`event__Amount`) for engines that dislike dots. URL is

    spark:DIR        DIR/<table>/ (or DIR/<table>.parquet) read by a local SparkSession
    parquet:DIR      the same folder read by DuckDB
    duckdb://PATH, clickhouse://HOST/DB, bigquery://PROJECT/DATASET, trino://...   any ibis URL

with our own parameters `table` (default `events`), `tz` (the timezone whose days `from`/`to`
name; default: the export's `_reportkit.json`, else UTC) and `threads` (requests in flight,
default 4). Credentials come from the engine's usual places; a password in the URL is refused.

Same rules as the local engine (`reportkit/sources/local.py`, the rule book; its helpers rank,
label, bucket and list periods here too), expressed as ibis expressions so one definition runs
on every engine ibis compiles for:
- the window is the events whose *local* day (ts plus the timezone's offset, a CASE over the
  offset changes inside the window) lies in [from, to], with a coarse ts range first so that
  engines can prune files;
- profile properties take each identity's latest non-null value over the whole table (as the
  store's `profiles` table does; of several at one ts, the engine picks, where the store keeps
  the one with the greatest hash: an exported table has one per identity);
- a string column is STR (ENUM for technographics) but `$D_<epoch>` values in it are DATE;
  numbers are NUMBER, timestamps DATE; NUMBER/DATE bucket widths are chosen in the engine from a
  table of candidate widths (1, 2, 5, 10... times the unit) with the local engine's test;
- every group of a request is a branch of one UNION ALL: one engine query per request, which
  returns only aggregated rows; ranking, "-1" and top_n are applied to those rows in Python by
  the local engine's own functions.

The local engine keeps its hand-written DuckDB SQL instead of these expressions: it runs on the
store's wide, dictionary-encoded layout (eid/pid integers, a precomputed `day` and `hour`) at
0.88x of hand-written DuckDB, and compiling through ibis per request would add planning time and
give up those columns. The warehouse layout has neither, so the rules are restated here once,
and the agreement test (tests/test_warehouse.py) holds the two to byte-identical results.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reportkit.errors import (
    InvalidInput,
    QueryFailed,
    ReportkitError,
    SourceError,
    TransportError,
    one_line,
)
from reportkit.plan import Request
from reportkit.sources.local import (
    ENDPOINTS,
    Refused,
    Window,
    label_of,
    number_of,
    parse_day,
    periods_of,
    rank_values,
)
from reportkit.sources.warehouse_rules import (
    DATE_PATTERN,
    Layout,
    Part,
    Query,
    group_maps,
    read_layout,
)
from reportkit.store import SCOPES

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

DEFAULT_TABLE = "events"
DEFAULT_THREADS = 4
_OUR_PARAMS = ("table", "tz", "threads")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True, slots=True)
class WarehouseTarget:
    """A parsed `warehouse:URL`."""

    engine: Literal["spark", "parquet", "ibis"]
    location: str  # the folder, or the ibis URL without our parameters
    table: str = DEFAULT_TABLE
    timezone: str | None = None
    threads: int = DEFAULT_THREADS

    @property
    def display(self) -> str:
        """The source's name: the URL as given, less any query string (no secrets)."""
        if self.engine == "ibis":
            parts = urllib.parse.urlsplit(self.location)
            return f"warehouse:{parts.scheme}://{parts.netloc}{parts.path}"
        return f"warehouse:{self.engine}:{self.location}"


def parse_warehouse(text: str) -> WarehouseTarget:
    """Read the URL after `warehouse:`; InvalidInput (exit 2) names what is wrong."""
    if not text:
        raise InvalidInput("warehouse: needs a URL (spark:DIR, parquet:DIR or an ibis URL)")
    if text.startswith(("spark:", "parquet:")) and not text.startswith(("spark://",)):
        engine, _, rest = text.partition(":")
        location, _, query = rest.partition("?")
        if not location:
            raise InvalidInput(f"warehouse:{engine}: needs a folder (warehouse:{engine}:DIR)")
        params = _params(text, query, allowed=_OUR_PARAMS)
        return _target(engine, location, params)  # type: ignore[arg-type]
    parts = urllib.parse.urlsplit(text)
    if not parts.scheme or "://" not in text:
        raise InvalidInput(
            f"warehouse:{one_line(text)}: not a URL (write warehouse:spark:DIR,"
            " warehouse:parquet:DIR or an ibis URL such as warehouse:duckdb://PATH)"
        )
    if parts.password:
        raise InvalidInput(
            f"warehouse:{parts.scheme}://...: a password in the URL is refused; give it the"
            " way the engine reads credentials (its environment variables or config file)"
        )
    params = _params(text, parts.query, allowed=None)
    ours = {k: params.pop(k) for k in _OUR_PARAMS if k in params}
    rest = urllib.parse.urlencode(params)
    location = urllib.parse.urlunsplit(parts._replace(query=rest))
    return _target("ibis", location, ours)


def _params(text: str, query: str, *, allowed: tuple[str, ...] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if allowed is not None and key not in allowed:
            raise InvalidInput(
                f"warehouse: unknown parameter {one_line(key)!r} (expected {', '.join(allowed)})"
            )
        params[key] = value
    return params


def _target(
    engine: Literal["spark", "parquet", "ibis"], location: str, params: dict[str, str]
) -> WarehouseTarget:
    table = params.get("table", DEFAULT_TABLE)
    if not _NAME_RE.match(table):
        raise InvalidInput(f"warehouse: bad table name {one_line(table)!r}")
    tz = params.get("tz")
    if tz is not None:
        _zone(tz)
    threads_text = params.get("threads", str(DEFAULT_THREADS))
    if not threads_text.isdigit() or not 1 <= int(threads_text) <= 64:
        raise InvalidInput(f"warehouse: threads must be 1 to 64, not {one_line(threads_text)!r}")
    return WarehouseTarget(engine, location, table, tz, int(threads_text))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"warehouse: unknown timezone {one_line(name)!r}") from None


# -- the source ---------------------------------------------------------------------------------


class WarehouseSource:
    """A `Source` over one flat events table on any ibis backend; up to `threads` at once."""

    def __init__(
        self,
        target: WarehouseTarget,
        connect: Callable[[], tuple[BaseBackend, ir.Table]],
        *,
        shared: bool,
        zone: ZoneInfo,
    ) -> None:
        self.target = target
        self.name = target.display
        self.max_in_flight = target.threads
        self.zone = zone
        self._connect = connect
        self._shared = shared
        self._local = threading.local()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(target.threads)
        self._backends: list[BaseBackend] = []
        backend, table = connect()  # fails here, before any report runs, when unreachable
        self._first = (backend, table)
        self._backends.append(backend)
        self.layout = self._dated(table, read_layout(dict(table.schema().items()), self.name))

    def _dated(self, table: ir.Table, layout: Layout) -> Layout:
        """`layout` less the DATE reading of string columns that hold no `$D_` value, as the
        store has a DATE column only for a property that held a date once: one scan of the
        string columns when the source opens."""
        strings = sorted(
            {p.column for parts in layout.parts.values() for p in parts if p.kind == "string"}
        )
        if not strings:
            return layout
        found = self._fetch(
            table.aggregate(
                **{f"d{i}": table[c].re_search(DATE_PATTERN).any() for i, c in enumerate(strings)}
            )
        ).to_pylist()[0]
        dated = {c for i, c in enumerate(strings) if found[f"d{i}"]}
        keep = {
            key: tuple(
                p
                for p in parts
                if not (p.kind == "string" and p.type == "DATE") or p.column in dated
            )
            for key, parts in layout.parts.items()
        }
        return Layout(layout.ts_kind, keep)

    def _table(self) -> ir.Table:
        if self._shared:
            return self._first[1]
        table: ir.Table | None = getattr(self._local, "table", None)
        if table is None:
            with self._lock:
                if not getattr(self, "_first_taken", False):
                    self._first_taken = True
                    backend, table = self._first
                else:
                    backend, table = self._connect()
                    self._backends.append(backend)
            self._local.table = table
        return table

    def _fetch(self, expr: Any) -> Any:
        """Run one expression on the engine; Arrow back. Spark's calls go through threads that
        live as long as the process: py4j gives each Python thread its own socket to the JVM,
        and a run's short-lived worker threads would leave them to the garbage collector."""
        if self.target.engine == "spark":
            return _spark_pool().submit(expr.to_pyarrow).result()
        return expr.to_pyarrow()

    def execute(self, request: Request) -> dict[str, Any]:
        with self._slots:
            try:
                return self.answer(request.endpoint, request.body)
            except Refused as exc:
                event = request.body.get("event_name") if isinstance(request.body, dict) else None
                raise QueryFailed(
                    f"{self.name} {request.endpoint} for event {event!r} failed:"
                    f" {exc.error} (code {exc.code})"
                ) from None
            except SourceError:
                raise
            except Exception as exc:
                raise TransportError(f"{self.name}: the engine failed: {_first_line(exc)}") from exc

    def answer(self, endpoint: str, body: Any) -> dict[str, Any]:
        if endpoint not in ENDPOINTS:
            raise Refused(f"Unknown endpoint : {endpoint}", 404)
        if not isinstance(body, dict):
            raise Refused("Request body must be a JSON object")
        name = body.get("event_name")
        if not isinstance(name, str) or not name:
            raise Refused("event_name is required")
        window = Window(parse_day(body, "from"), parse_day(body, "to"))
        if window.start > window.end:
            raise Refused(f"from ({body['from']}) is after to ({body['to']})")
        from reportkit.sources.filters import FilterError

        try:
            q = Query(self._table(), self.layout, self.zone, window, name, body)
        except FilterError as exc:
            raise Refused(f"Invalid filter : {exc}") from None
        if endpoint == "/1/counts/top.json":
            return self._top(q, body)
        if endpoint == "/1/counts/trends.json":
            return self._trends(q, window, body)
        events = q.events
        row = self._fetch(
            events.aggregate(n=events.count(), u=events.identity.nunique())
        ).to_pylist()[0]
        total, unique = int(row["n"] or 0), int(row["u"] or 0)
        if not total and not self._has_event(name):
            raise Refused(f"Invalid event : {name}")
        if endpoint == "/1/counts/events.json":
            return {"status": "success", "count": total}
        # as the local engine (and a real profiles.json answer): the event total too
        return {
            "status": "success",
            "count": unique,
            "tcount": total,
            "nQCount": 0,
            "userDeviceCount": {"devices": unique, "users": unique},
        }

    def _has_event(self, name: str) -> bool:
        t = self._table()
        return bool(self._fetch(t.filter(t.event_name == name).count()).as_py())

    def _top(self, q: Query, body: dict[str, Any]) -> dict[str, Any]:
        groups = body.get("groups")
        if not isinstance(groups, dict) or not groups:
            raise Refused("groups is required")
        plans: list[tuple[str, str, tuple[Part, ...], int, str]] = []
        for key, group in groups.items():
            if not isinstance(group, dict):
                raise Refused("Invalid group")
            scope, name = group.get("property_type"), group.get("name")
            if scope not in SCOPES or not isinstance(name, str):
                raise Refused("Invalid group")
            top_n, order = group.get("top_n", 10), group.get("order", "desc")
            if not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1:
                raise Refused(f"Invalid top_n : {top_n}")
            if order not in ("asc", "desc"):
                raise Refused(f"Invalid order : {order}")
            parts = self.layout.parts.get((scope, name), ())
            if not parts and not (scope == "session_properties" and name == "time_of_day"):
                raise Refused("Invalid group")
            plans.append((str(key), scope, parts, top_n, order))
        rows = q.top([(g, scope, parts) for g, (_, scope, parts, _, _) in enumerate(plans)])
        found = self._fetch(rows).to_pylist()
        if not any(r["typ"] == "*" and r["n"] for r in found) and not any(
            r["typ"] == "HOUR" for r in found
        ):
            self._check_event(q, body["event_name"])
        answer: dict[str, Any] = {"status": "success"}
        for g, (key, scope, _parts, top_n, order) in enumerate(plans):
            maps = group_maps([r for r in found if r["g"] == g], scope)
            answer[key] = {
                typ: {label_of(v): n for v, n in rank_values(values, order, top_n)}
                for typ, values in maps.items()
                if values
            }
        return answer

    def _check_event(self, q: Query, name: str) -> None:
        if not self._has_event(name):
            raise Refused(f"Invalid event : {name}")

    def _trends(self, q: Query, window: Window, body: dict[str, Any]) -> dict[str, Any]:
        groups = body.get("groups")
        if not isinstance(groups, dict) or not groups:
            raise Refused("groups is required")
        unique, prop = body.get("unique", False), body.get("sum_event_prop")
        if not isinstance(unique, bool):
            raise Refused("unique must be true or false")
        number = None
        if prop is not None:
            if unique:
                raise Refused("unique and sum_event_prop cannot be combined")
            if not isinstance(prop, str):
                raise Refused("Invalid group")
            numbers = [
                p
                for p in self.layout.parts.get(("event_properties", prop), ())
                if p.type == "NUMBER"
            ]
            if not numbers:
                raise Refused("Invalid group")
            number = numbers[0].column
        kinds: dict[str, str] = {}
        for key, group in groups.items():
            kind = group.get("trend_type") if isinstance(group, dict) else None
            if kind not in ("daily", "weekly", "monthly"):
                raise Refused(f"Invalid trend_type : {kind}")
            kinds[str(key)] = kind
        if not self._has_event(body["event_name"]):
            raise Refused(f"Invalid event : {body['event_name']}")
        answer: dict[str, Any] = {"status": "success"}
        epoch = date(1970, 1, 1)
        for key, kind in kinds.items():
            periods = periods_of(window, kind)
            rows = self._fetch(q.trend(kind, unique, number, periods)).to_pylist()
            found = {epoch + timedelta(days=int(r["p"])): number_of(r["n"] or 0) for r in rows}
            answer[key] = {p.strftime("%Y%m%d"): found.get(p, 0) for p in periods}
        return answer

    def close(self) -> None:
        with self._lock:
            backends, self._backends = self._backends, []
        for backend in backends:
            if self.target.engine != "spark":  # the SparkSession is the process's, not ours
                try:
                    backend.disconnect()
                except Exception:  # closing is best effort
                    continue


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return one_line(lines[0][:300]) if lines else type(exc).__name__


# -- opening ------------------------------------------------------------------------------------


_SPARK_LOCK = threading.Lock()
_SPARK_POOL: list[ThreadPoolExecutor] = []


def _spark_pool() -> ThreadPoolExecutor:
    """The process's threads for Spark calls (made once, as many as a source may use)."""
    with _SPARK_LOCK:
        if not _SPARK_POOL:
            _SPARK_POOL.append(ThreadPoolExecutor(max_workers=64, thread_name_prefix="spark"))
        return _SPARK_POOL[0]


def spark_session(**conf: str) -> Any:
    """The process's SparkSession: the active one when there is one (a test's, a notebook's),
    else a new one: local mode (`REPORTKIT_SPARK_MASTER` for a cluster), no UI, bound to
    127.0.0.1, UTC, few shuffle partitions, `conf` on top; nothing is downloaded (no packages,
    no Ivy)."""
    import os

    with _SPARK_LOCK:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        settings = {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": os.environ.get("REPORTKIT_SPARK_PARTITIONS", "4"),
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            **conf,
        }
        builder = SparkSession.builder.master(
            os.environ.get("REPORTKIT_SPARK_MASTER", "local[2]")
        ).appName("reportkit")
        for key, value in settings.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()


def _parquet_path(folder: Path, table: str, where: str) -> Path:
    if not folder.is_dir():
        raise InvalidInput(f"{where}: no such folder {folder}")
    for candidate in (folder / table, folder / f"{table}.parquet"):
        if candidate.is_dir() and any(candidate.glob("*.parquet")):
            return candidate
        if candidate.is_file():
            return candidate
    raise InvalidInput(
        f"{where}: no table {table!r} (expected {folder / table}/*.parquet or"
        f" {folder / table}.parquet; write one with reportkit export)"
    )


def _export_timezone(path: Path) -> str | None:
    meta = (path if path.is_dir() else path.parent) / "_reportkit.json"
    try:
        value = json.loads(meta.read_text(encoding="utf-8")).get("timezone")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def open_warehouse(text: str) -> WarehouseSource:
    """Open `warehouse:URL` (the part after `warehouse:`): bad URLs and missing tables are
    InvalidInput (exit 2), an engine that cannot be reached a TransportError (exit 1)."""
    target = parse_warehouse(text)
    where = target.display
    tz = target.timezone
    try:
        if target.engine in ("spark", "parquet"):
            path = _parquet_path(Path(target.location), target.table, where)
            tz = tz or _export_timezone(path)
            if target.engine == "spark":
                connect = _spark_connect(path, target.table)
                shared = True
            else:
                connect = _duckdb_connect(path, target.table)
                shared = False
        else:
            connect = _ibis_connect(target, where)
            shared = False
        return WarehouseSource(target, connect, shared=shared, zone=_zone(tz or "UTC"))
    except ReportkitError:
        raise
    except Exception as exc:
        raise TransportError(f"{where}: cannot open it: {_first_line(exc)}") from exc


def _spark_connect(path: Path, table: str) -> Callable[[], tuple[BaseBackend, ir.Table]]:
    def connect() -> tuple[BaseBackend, ir.Table]:
        import ibis

        con = ibis.pyspark.connect(spark_session())
        return con, con.read_parquet(str(path.absolute()), table_name=f"reportkit_{table}")

    return connect


def _duckdb_connect(path: Path, table: str) -> Callable[[], tuple[BaseBackend, ir.Table]]:
    def connect() -> tuple[BaseBackend, ir.Table]:
        import ibis

        con = ibis.duckdb.connect()
        con.raw_sql("SET enable_progress_bar = false")
        source = str(path / "*.parquet") if path.is_dir() else str(path)
        return con, con.read_parquet(source, table_name=table)

    return connect


def _ibis_connect(
    target: WarehouseTarget, where: str
) -> Callable[[], tuple[BaseBackend, ir.Table]]:
    parts = urllib.parse.urlsplit(target.location)
    scheme = parts.scheme
    if scheme == "duckdb":
        path = parts.netloc + parts.path  # as ibis reads it
        if path and path != ":memory:" and not Path(path).is_file():
            raise InvalidInput(f"{where}: no such DuckDB file {path}")

    def connect() -> tuple[BaseBackend, ir.Table]:
        import ibis
        from ibis.common.exceptions import TableNotFound

        kwargs: dict[str, Any] = {}
        if scheme == "duckdb":
            kwargs["read_only"] = True
        try:
            con = ibis.connect(target.location, **kwargs)
        except ImportError as exc:
            raise InvalidInput(
                f"{where}: ibis has no {scheme} backend installed ({_first_line(exc)})"
            ) from exc
        except Exception as exc:
            raise TransportError(f"{where}: cannot connect: {_first_line(exc)}") from exc
        try:
            return con, con.table(target.table)
        except TableNotFound:
            raise InvalidInput(f"{where}: no table {target.table!r}") from None
        except Exception as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                raise InvalidInput(f"{where}: no table {target.table!r}") from None
            raise

    return connect
