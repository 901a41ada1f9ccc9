"""Canonical tables: every stage boundary has a schema here, with meaning and units.

Conventions (see DESIGN.md §2):

* Timestamps are int64 nanoseconds since the UNIX epoch, UTC. ``ts_event`` is venue time,
  ``ts_recv`` capture time (equal to ``ts_event`` when the source has only one clock).
* Prices are exact int64 fixed point in 1e-9 units (:data:`orderflow.core.enums.PRICE_SCALE`).
  An empty book level has price :data:`~orderflow.core.enums.UNDEF_PRICE` and size 0.
* Sizes are exact int64 counts of the instrument's ``size_unit`` (1 share or contract for
  equities and futures; e.g. 1e-8 BTC for crypto, see :class:`orderflow.core.instruments.Instrument`).
* ``seq`` is the position of the source event in the partition's one event stream: BOOK_DELTAS,
  TRADES and STATUS rows share it, so merging on ``seq`` restores the venue's order. Several rows
  may share a ``seq`` when one venue message changes several levels; the last of them carries
  :attr:`~orderflow.core.enums.Flags.LAST`.
* Tables are stored partitioned by instrument and trading date (``instrument=X/date=YYYY-MM-DD``);
  those two are not columns inside the files.

Every table validates on read and write with :func:`validate`, which raises a
:class:`~orderflow.core.errors.SchemaError` naming the table, the column and the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from orderflow.core.errors import SchemaError


@dataclass(frozen=True)
class Column:
    """One column: name, polars dtype, unit and meaning."""

    name: str
    dtype: pl.DataType | type[pl.DataType]
    unit: str
    description: str
    nullable: bool = False


Check = tuple[str, Callable[[], pl.Expr]]
"""A value rule: (description, function returning a boolean expression true for valid rows)."""


@dataclass(frozen=True)
class Schema:
    """A canonical table: ordered required columns, optional extra columns, and value rules."""

    name: str
    columns: tuple[Column, ...]
    description: str
    checks: tuple[Check, ...] = ()
    extra_dtypes: tuple[type[pl.DataType], ...] = ()
    """Dtypes allowed for columns beyond the required ones (empty: no extra columns allowed)."""
    sort_key: tuple[str, ...] = ()
    optional: tuple[Column, ...] = field(default=())
    """Columns that may be absent; when present they must have this dtype."""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def polars_schema(self) -> dict[str, pl.DataType | type[pl.DataType]]:
        return {c.name: c.dtype for c in self.columns}

    def empty(self) -> pl.DataFrame:
        """An empty frame with the required columns."""
        return pl.DataFrame(schema=self.polars_schema())

    def doc_table(self) -> str:
        """Markdown table of the columns (used by the docs)."""
        rows = ["| column | type | unit | meaning |", "|---|---|---|---|"]
        for c in (*self.columns, *self.optional):
            rows.append(f"| `{c.name}` | {c.dtype} | {c.unit} | {c.description} |")
        return "\n".join(rows)


def _ts(name: str, what: str) -> Column:
    return Column(name, pl.Int64, "ns since epoch, UTC", what)


TS_EVENT = _ts("ts_event", "venue (matching-engine) time of the event")
TS_RECV = _ts("ts_recv", "capture time; equals ts_event when the source has one clock")
SEQ = Column("seq", pl.Int64, "count", "position of the source event in the partition's event stream")


def level_names(depth: int, sides: Sequence[str] = ("bid", "ask")) -> list[str]:
    """DBN mbp-N style level columns: ``bid_px_00, ..., bid_sz_00, ..., ask_px_00, ..., ask_sz_00, ...``."""
    names: list[str] = []
    for side in sides:
        names += [f"{side}_px_{k:02d}" for k in range(depth)]
        names += [f"{side}_sz_{k:02d}" for k in range(depth)]
    return names


def _nonneg(col: str) -> Check:
    return (f"{col} >= 0", lambda: pl.col(col) >= 0)


BOOK_DELTAS = Schema(
    name="book_deltas",
    description="Price-level (L2) book changes in venue order. Order-level sources fill order_id.",
    columns=(
        TS_EVENT,
        TS_RECV,
        SEQ,
        Column("side", pl.Int8, "Side code", "+1 bid, -1 ask, 0 both (CLEAR only)"),
        Column(
            "action",
            pl.UInt8,
            "BookAction code",
            "1 ADD, 2 REDUCE (cancel), 3 EXECUTE, 4 SET (absolute), 5 CLEAR",
        ),
        Column("price", pl.Int64, "1e-9 currency units", "level price (ignored by CLEAR)"),
        Column(
            "size",
            pl.Int64,
            "size_unit",
            "quantity added/removed (ADD/REDUCE/EXECUTE) or new level size (SET)",
        ),
        Column("order_id", pl.UInt64, "id", "venue order id when the source is order-level, else 0"),
        Column(
            "flags",
            pl.UInt8,
            "Flags bits",
            "DBN-compatible: 128 last in event, 32 snapshot, 8 bad ts_recv, 4 maybe bad book",
        ),
    ),
    checks=(
        _nonneg("size"),
        ("side in {-1, 0, 1}", lambda: pl.col("side").is_in([-1, 0, 1])),
        ("action in 1..5", lambda: pl.col("action").is_between(1, 5)),
        ("side != 0 unless CLEAR", lambda: (pl.col("side") != 0) | (pl.col("action") == 5)),
    ),
    sort_key=("seq",),
)

TRADES = Schema(
    name="trades",
    description="Executions. A trade against displayed liquidity also appears in BOOK_DELTAS as EXECUTE.",
    columns=(
        TS_EVENT,
        TS_RECV,
        SEQ,
        Column("price", pl.Int64, "1e-9 currency units", "execution price"),
        Column("size", pl.Int64, "size_unit", "executed quantity"),
        Column(
            "aggressor", pl.Int8, "AggressorSide code", "+1 buyer-initiated, -1 seller-initiated, 0 unknown"
        ),
        Column("kind", pl.UInt8, "TradeKind code", "0 regular, 1 hidden, 2 cross/auction, 3 other"),
        Column("trade_id", pl.UInt64, "id", "venue trade id, 0 when absent"),
        Column("order_id", pl.UInt64, "id", "resting (passive) order id when known, else 0"),
        Column("flags", pl.UInt8, "Flags bits", "as BOOK_DELTAS"),
    ),
    checks=(
        ("size > 0", lambda: pl.col("size") > 0),
        ("aggressor in {-1, 0, 1}", lambda: pl.col("aggressor").is_in([-1, 0, 1])),
    ),
    sort_key=("seq",),
)

STATUS = Schema(
    name="status",
    description="Market state changes: halts, resumes, auctions (LOBSTER type 7, DBN status, ITCH H).",
    columns=(
        TS_EVENT,
        TS_RECV,
        SEQ,
        Column(
            "status",
            pl.UInt8,
            "MarketStatus code",
            "1 halt, 2 quote resume, 3 trade resume, 4 auction, 5 open, 6 close, 7 other",
        ),
        Column("detail", pl.Utf8, "text", "venue detail (reason code, raw value)"),
    ),
    sort_key=("seq",),
)


def book_snapshots(depth: int) -> Schema:
    """BOOK_SNAPSHOTS (mbp-N): the top ``depth`` occupied levels of each side after event ``seq``.

    Level k = 0 is the best. Empty levels have price UNDEF_PRICE and size 0.
    """
    cols: list[Column] = [TS_EVENT, TS_RECV, SEQ]
    for side in ("bid", "ask"):
        for k in range(depth):
            cols.append(
                Column(f"{side}_px_{k:02d}", pl.Int64, "1e-9 currency units", f"{side} price at level {k}")
            )
        for k in range(depth):
            cols.append(Column(f"{side}_sz_{k:02d}", pl.Int64, "size_unit", f"{side} size at level {k}"))
    return Schema(
        name=f"book_snapshots_{depth}",
        description=f"Top {depth} occupied price levels per side after each sampled event (DBN mbp-{depth} naming).",
        columns=tuple(cols),
        checks=tuple(_nonneg(f"{s}_sz_{k:02d}") for s in ("bid", "ask") for k in range(depth)),
        optional=tuple(
            Column(f"{s}_ct_{k:02d}", pl.UInt32, "orders", f"{s} order count at level {k}")
            for s in ("bid", "ask")
            for k in range(depth)
        ),
        sort_key=("seq",),
    )


def snapshot_depth(df: pl.DataFrame | pl.LazyFrame) -> int:
    """Number of levels in a BOOK_SNAPSHOTS frame (counted from its ``bid_px_kk`` columns)."""
    names = df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns
    return sum(1 for n in names if n.startswith("bid_px_"))


QC = Schema(
    name="qc",
    description="One row per flagged or quarantined event: which rule, why, and what was done.",
    columns=(
        SEQ,
        TS_EVENT,
        Column(
            "table", pl.Utf8, "name", "table the flagged row belongs to (book_deltas, trades, snapshots, raw)"
        ),
        Column("rule", pl.Utf8, "name", "rule or stage that flagged it (e.g. crossed_book, binance_gap)"),
        Column("reason", pl.Utf8, "code", "reason code within the rule (e.g. auction, feed_glitch)"),
        Column(
            "action", pl.Utf8, "drop|downweight|mark|quarantine", "what downstream stages do with the row"
        ),
        Column("detail", pl.Utf8, "text", "free text: raw line, values, counts"),
    ),
    checks=(
        (
            "action in {drop, downweight, mark, quarantine}",
            lambda: pl.col("action").is_in(["drop", "downweight", "mark", "quarantine"]),
        ),
    ),
    sort_key=("seq",),
)

FEATURES = Schema(
    name="features",
    description="Causal features sampled on a clock; each float column is one feature (see features docs).",
    columns=(TS_EVENT, SEQ),
    extra_dtypes=(pl.Float64, pl.Float32, pl.Int64, pl.Int32, pl.Int8, pl.UInt8, pl.Boolean),
    sort_key=("seq",),
)

REGIMES = Schema(
    name="regimes",
    description="Causally assigned regime per sampled row; p_regime_k are filtered probabilities.",
    columns=(TS_EVENT, SEQ, Column("regime", pl.Int16, "code", "regime label (0..K-1), -1 before warm-up")),
    extra_dtypes=(pl.Float64,),
    sort_key=("seq",),
)

LABELS = Schema(
    name="labels",
    description="Targets looking forward from each row; t_end_ns bounds the label window for purging.",
    columns=(TS_EVENT, SEQ, _ts("t_end_ns", "end of the label window (inclusive); purging uses it")),
    extra_dtypes=(pl.Float64, pl.Int8, pl.Int16, pl.Int32, pl.Int64),
    sort_key=("seq",),
)

PREDICTIONS = Schema(
    name="predictions",
    description="Out-of-sample predictions: class probabilities p_*, quantiles q_NN, decision.",
    columns=(TS_EVENT, SEQ, Column("fold", pl.Int32, "index", "walk-forward fold that produced the row")),
    extra_dtypes=(pl.Float64, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.Utf8),
    sort_key=("seq",),
)

ORDERS = Schema(
    name="orders",
    description="Backtest order lifecycle: one row per order with submit/ack/done times.",
    columns=(
        Column("order_id", pl.Int64, "id", "backtest order id"),
        _ts("ts_submit", "strategy clock time the order was sent"),
        _ts("ts_exchange", "exchange time the order arrived"),
        _ts("ts_done", "exchange time the order was filled, cancelled or rejected (-1 if open at end)"),
        Column("side", pl.Int8, "Side code", "+1 buy, -1 sell"),
        Column("order_type", pl.UInt8, "code", "0 market, 1 limit"),
        Column("tif", pl.UInt8, "code", "0 GTC, 1 IOC, 2 FOK, 3 post-only"),
        Column("price", pl.Int64, "1e-9 currency units", "limit price (UNDEF_PRICE for market)"),
        Column("size", pl.Int64, "size_unit", "ordered quantity"),
        Column("filled", pl.Int64, "size_unit", "quantity filled"),
        Column("status", pl.UInt8, "code", "0 open, 1 filled, 2 cancelled, 3 rejected, 4 expired"),
    ),
)

FILLS = Schema(
    name="fills",
    description="Backtest fills; position and cash follow from these alone.",
    columns=(
        Column("order_id", pl.Int64, "id", "backtest order id"),
        _ts("ts_exchange", "exchange time of the fill"),
        Column("side", pl.Int8, "Side code", "+1 buy, -1 sell"),
        Column("price", pl.Int64, "1e-9 currency units", "fill price"),
        Column("size", pl.Int64, "size_unit", "filled quantity"),
        Column("maker", pl.Boolean, "flag", "true when the fill was passive"),
        Column("fee", pl.Float64, "currency", "fee paid (negative = rebate)"),
    ),
)

EQUITY = Schema(
    name="equity",
    description="Backtest account marked to market on the strategy clock.",
    columns=(
        _ts("ts", "exchange time"),
        Column("position", pl.Float64, "instrument units", "signed position"),
        Column("cash", pl.Float64, "currency", "cash after fees"),
        Column("mid", pl.Float64, "currency", "mark price (mid)"),
        Column("equity", pl.Float64, "currency", "cash + position x mid"),
    ),
)

SIM_REGIMES = Schema(
    name="sim_regimes",
    description="Simulator ground truth: the hidden regime in force from ts_event on.",
    columns=(TS_EVENT, SEQ, Column("regime", pl.Int16, "code", "0 calm/liquid, 1 volatile/thin, ...")),
    sort_key=("seq",),
)

SIM_ARTIFACTS = Schema(
    name="sim_artifacts",
    description="Simulator ground truth: every injected artifact event (what the filters should flag).",
    columns=(
        SEQ,
        TS_EVENT,
        Column(
            "table", pl.Utf8, "name", "table holding the artifact rows (book_deltas, trades, book_snapshots)"
        ),
        Column("kind", pl.Utf8, "name", "stale_quote | crossed | locked | burst | duplicate"),
    ),
    sort_key=("seq",),
)

SCHEMAS: dict[str, Schema] = {
    s.name: s
    for s in (
        BOOK_DELTAS,
        TRADES,
        STATUS,
        QC,
        FEATURES,
        REGIMES,
        LABELS,
        PREDICTIONS,
        ORDERS,
        FILLS,
        EQUITY,
        SIM_REGIMES,
        SIM_ARTIFACTS,
    )
}


def schema_for(table: str, df: pl.DataFrame | pl.LazyFrame | None = None) -> Schema:
    """The schema of table ``table`` (``book_snapshots`` takes its depth from ``df``)."""
    if table == "book_snapshots" or table.startswith("book_snapshots_"):
        if table.startswith("book_snapshots_"):
            return book_snapshots(int(table.rsplit("_", 1)[1]))
        if df is None:
            raise SchemaError("book_snapshots: depth unknown (pass the frame)")
        return book_snapshots(snapshot_depth(df))
    try:
        return SCHEMAS[table]
    except KeyError:
        raise SchemaError(
            f"unknown table '{table}' (known: {', '.join(sorted(SCHEMAS))}, book_snapshots)"
        ) from None


HIVE_COLUMNS = ("instrument", "date")


def validate(df: pl.DataFrame, schema: Schema, *, where: str = "", check_values: bool = True) -> pl.DataFrame:
    """Check ``df`` against ``schema``; return it with columns in canonical order.

    Raises :class:`SchemaError` naming the table, column and rule: a missing column, a wrong dtype,
    an unexpected column, or a value rule broken (with the first offending row index).
    """
    ctx = f"{schema.name}{' (' + where + ')' if where else ''}"
    present = dict(zip(df.columns, df.dtypes, strict=True))
    for col in schema.columns:
        if col.name not in present:
            raise SchemaError(f"{ctx}: missing column '{col.name}' ({col.dtype}, {col.unit})")
        if present[col.name] != col.dtype:
            raise SchemaError(
                f"{ctx}: column '{col.name}' has dtype {present[col.name]}, expected {col.dtype}"
            )
        if not col.nullable and df[col.name].null_count():
            raise SchemaError(
                f"{ctx}: column '{col.name}' has {df[col.name].null_count()} nulls; rule: not null"
            )
    required = set(schema.names)
    optional = {c.name: c for c in schema.optional}
    extras: list[str] = []
    for name, dtype in present.items():
        if name in required or name in HIVE_COLUMNS:
            continue
        if name in optional:
            if dtype != optional[name].dtype:
                raise SchemaError(
                    f"{ctx}: column '{name}' has dtype {dtype}, expected {optional[name].dtype}"
                )
            extras.append(name)
            continue
        if not schema.extra_dtypes:
            raise SchemaError(f"{ctx}: unexpected column '{name}' (allowed: {', '.join(schema.names)})")
        if not any(dtype == t for t in schema.extra_dtypes):
            allowed = ", ".join(str(t) for t in schema.extra_dtypes)
            raise SchemaError(
                f"{ctx}: column '{name}' has dtype {dtype}; extra columns must be one of {allowed}"
            )
        extras.append(name)
    if check_values and df.height:
        for rule, expr in schema.checks:
            ok = df.select(expr().fill_null(False).alias("_ok"))["_ok"]
            if not ok.all():
                bad = int((~ok).arg_true()[0])
                raise SchemaError(f"{ctx}: rule '{rule}' broken at row {bad} ({(~ok).sum()} rows)")
    return df.select([*schema.names, *extras])


def validate_lazy_schema(lf: pl.LazyFrame, schema: Schema, *, where: str = "") -> None:
    """Check names and dtypes of a LazyFrame without collecting it."""
    present = lf.collect_schema()
    ctx = f"{schema.name}{' (' + where + ')' if where else ''}"
    for col in schema.columns:
        if col.name not in present:
            raise SchemaError(f"{ctx}: missing column '{col.name}'")
        if present[col.name] != col.dtype:
            raise SchemaError(
                f"{ctx}: column '{col.name}' has dtype {present[col.name]}, expected {col.dtype}"
            )


__all__ = [
    "BOOK_DELTAS",
    "EQUITY",
    "FEATURES",
    "FILLS",
    "LABELS",
    "ORDERS",
    "PREDICTIONS",
    "QC",
    "REGIMES",
    "SCHEMAS",
    "SIM_ARTIFACTS",
    "SIM_REGIMES",
    "STATUS",
    "TRADES",
    "Column",
    "Schema",
    "book_snapshots",
    "level_names",
    "schema_for",
    "snapshot_depth",
    "validate",
    "validate_lazy_schema",
]
