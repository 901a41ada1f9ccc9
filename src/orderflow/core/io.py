"""Canonical datasets on disk: Parquet (zstd), one folder per table, hive-partitioned by instrument and date.

Layout of a dataset directory::

    DIR/
      instruments.json                       # symbol -> Instrument
      book_deltas/instrument=AMZN/date=2012-06-21/part-00000.parquet
      trades/instrument=AMZN/date=2012-06-21/part-00000.parquet
      book_snapshots/...  status/...  qc/...  (and any other table)
      meta/instrument=AMZN/date=2012-06-21.json   # source files, digests, row counts

Every write is atomic: data goes to a temporary file in the destination folder, which is renamed
over the target only when complete, so a killed process never leaves a half-written table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from orderflow.core.errors import ArtifactError, OrderflowError
from orderflow.core.instruments import Instrument
from orderflow.core.schema import Schema, schema_for, validate

COMPRESSION: Final = "zstd"


_UMASK = os.umask(0)
os.umask(_UMASK)


def _mkstemp(path: Path) -> str:
    """A temp file beside ``path`` with the permissions a plain ``open()`` would give (mkstemp uses 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)
    os.close(fd)
    return tmp


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _mkstemp(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(df: pl.DataFrame, path: str | Path) -> None:
    """Write one Parquet file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _mkstemp(path)
    try:
        df.write_parquet(tmp, compression=COMPRESSION, statistics=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def file_digest(path: str | Path, algo: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file's bytes, read in chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _date_str(date: dt.date | str) -> str:
    return date.isoformat() if isinstance(date, dt.date) else dt.date.fromisoformat(date).isoformat()


class PartWriter:
    """Streams chunks of one table partition into one Parquet file, atomically on close.

    Memory stays bounded by the chunk size: each chunk is validated and appended as a row group.
    """

    def __init__(
        self, path: Path, schema: Schema | None, table: str, *, validate_values: bool = True
    ) -> None:
        self.path = path
        self.table = table
        self.schema = schema
        self.validate_values = validate_values
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(_mkstemp(path))
        self._writer: pq.ParquetWriter | None = None
        self._arrow_schema: pa.Schema | None = None

    def write(self, df: pl.DataFrame) -> None:
        schema = self.schema or schema_for(self.table, df)
        df = validate(df, schema, where=str(self.path), check_values=self.validate_values)
        table = df.to_arrow()
        if self._writer is None:
            self._arrow_schema = table.schema
            self._writer = pq.ParquetWriter(self._tmp, table.schema, compression=COMPRESSION)
        elif table.schema != self._arrow_schema:
            table = table.cast(self._arrow_schema)
        self._writer.write_table(table)
        self.rows += df.height

    def close(self) -> None:
        if self._writer is None:  # nothing written: an empty, valid file with the required columns
            schema = self.schema or schema_for(self.table)
            write_parquet(schema.empty(), self._tmp)
        else:
            self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)


class Dataset:
    """A canonical dataset directory (see module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- layout ---------------------------------------------------------------------------------------
    def partition_dir(self, table: str, instrument: str, date: dt.date | str) -> Path:
        return self.root / table / f"instrument={instrument}" / f"date={_date_str(date)}"

    def meta_path(self, instrument: str, date: dt.date | str) -> Path:
        return self.root / "meta" / f"instrument={instrument}" / f"date={_date_str(date)}.json"

    def tables(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and p.name != "meta" and not p.name.startswith(".")
        )

    def partitions(self, table: str = "book_deltas") -> list[tuple[str, str]]:
        """(instrument, date) pairs present for ``table``, sorted."""
        base = self.root / table
        out: list[tuple[str, str]] = []
        if not base.exists():
            return out
        for inst in sorted(base.glob("instrument=*")):
            for d in sorted(inst.glob("date=*")):
                if any(d.glob("*.parquet")):
                    out.append((inst.name.split("=", 1)[1], d.name.split("=", 1)[1]))
        return out

    # -- instruments ------------------------------------------------------------------------------------
    def instruments(self) -> dict[str, Instrument]:
        p = self.root / "instruments.json"
        if not p.exists():
            return {}
        raw = json.loads(p.read_text())
        return {k: Instrument(**v) for k, v in raw.items()}

    def instrument(self, symbol: str) -> Instrument:
        insts = self.instruments()
        if symbol not in insts:
            raise OrderflowError(
                f"{self.root}: instrument '{symbol}' not in instruments.json (have: {', '.join(insts) or 'none'})"
            )
        return insts[symbol]

    def add_instrument(self, inst: Instrument) -> None:
        insts = self.instruments()
        insts[inst.symbol] = inst
        atomic_write_json(
            self.root / "instruments.json", {k: v.model_dump() for k, v in sorted(insts.items())}
        )

    # -- write ------------------------------------------------------------------------------------------
    def write(
        self,
        table: str,
        df: pl.DataFrame,
        instrument: str,
        date: dt.date | str,
        *,
        schema: Schema | None = None,
    ) -> Path:
        """Replace partition (instrument, date) of ``table`` with ``df`` (validated, atomic)."""
        schema = schema or schema_for(table, df)
        df = validate(df, schema, where=f"{table}/{instrument}/{_date_str(date)}")
        d = self.partition_dir(table, instrument, date)
        path = d / "part-00000.parquet"
        write_parquet(df, path)
        for stale in d.glob("part-*.parquet"):
            if stale != path:
                stale.unlink()
        return path

    @contextlib.contextmanager
    def writer(
        self,
        table: str,
        instrument: str,
        date: dt.date | str,
        *,
        schema: Schema | None = None,
        validate_values: bool = True,
    ) -> Iterator[PartWriter]:
        """Stream chunks into partition (instrument, date) of ``table``; committed atomically on exit."""
        d = self.partition_dir(table, instrument, date)
        w = PartWriter(d / "part-00000.parquet", schema, table, validate_values=validate_values)
        try:
            yield w
        except BaseException:
            w.abort()
            raise
        w.close()
        for stale in d.glob("part-*.parquet"):
            if stale != w.path:
                stale.unlink()

    def write_meta(self, instrument: str, date: dt.date | str, meta: dict[str, Any]) -> None:
        atomic_write_json(self.meta_path(instrument, date), meta)

    def read_meta(self, instrument: str, date: dt.date | str) -> dict[str, Any]:
        p = self.meta_path(instrument, date)
        return json.loads(p.read_text()) if p.exists() else {}

    # -- read -------------------------------------------------------------------------------------------
    def read(
        self,
        table: str,
        instrument: str,
        date: dt.date | str,
        *,
        validate_schema: bool = True,
        rechunk: bool = False,
    ) -> pl.DataFrame:
        """Read one partition of ``table`` (validated against its schema).

        ``rechunk=True`` returns one contiguous chunk per column (numba kernels then read the
        columns without a copy of their own); else one chunk per Parquet row group."""
        d = self.partition_dir(table, instrument, date)
        files = self.files(table, instrument, date)
        try:
            df = pl.read_parquet(files if len(files) > 1 else files[0])
            if rechunk:
                df = df.rechunk()
        except Exception as e:  # corrupted file: say which
            raise ArtifactError(f"{files[0]}: cannot read Parquet ({e})") from e
        if validate_schema:
            df = validate(df, schema_for(table, df), where=str(d), check_values=False)
        return df

    def files(self, table: str, instrument: str, date: dt.date | str) -> list[Path]:
        """The Parquet files of one partition, in order (ArtifactError when there are none)."""
        d = self.partition_dir(table, instrument, date)
        files = sorted(d.glob("part-*.parquet"))
        if not files:
            raise ArtifactError(
                f"{d}: no Parquet files for table '{table}' ({instrument}, {_date_str(date)})"
            )
        return files

    def iter_batches(
        self,
        table: str,
        instrument: str,
        date: dt.date | str,
        rows: int,
        *,
        columns: list[str] | None = None,
    ) -> Iterator[pl.DataFrame]:
        """One partition of ``table`` as consecutive frames of at most ``rows`` rows (schema-checked;
        with ``columns``, only those columns are read and only their presence is checked).

        Memory holds one batch (plus a Parquet row group) at a time, whatever the partition's length.
        """
        for f in self.files(table, instrument, date):
            try:
                pf = pq.ParquetFile(f)
                for rb in pf.iter_batches(batch_size=max(int(rows), 1), columns=columns):
                    df = pl.from_arrow(rb)
                    assert isinstance(df, pl.DataFrame)
                    if columns is None:
                        df = validate(df, schema_for(table, df), where=str(f), check_values=False)
                    yield df
            except (OSError, ValueError) as e:  # pyarrow's errors for damaged files derive from these
                raise ArtifactError(f"{f}: cannot read Parquet ({e})") from e

    def has(self, table: str, instrument: str, date: dt.date | str) -> bool:
        return any(self.partition_dir(table, instrument, date).glob("part-*.parquet"))

    def scan(self, table: str) -> pl.LazyFrame:
        """All partitions of ``table`` as one LazyFrame with ``instrument`` and ``date`` columns."""
        base = self.root / table
        if not base.exists():
            raise ArtifactError(f"{base}: table '{table}' not found in dataset {self.root}")
        return pl.scan_parquet(str(base / "**" / "*.parquet"), hive_partitioning=True)


class SeqCursor:
    """Rows of a seq-ordered table handed out by seq bound, read batch by batch (e.g. from
    :meth:`Dataset.iter_batches`): memory holds the batches not yet handed out."""

    def __init__(self, batches: Iterator[pl.DataFrame]) -> None:
        self._batches = batches
        self._buf: list[pl.DataFrame] = []
        self._done = False

    def _fill(self) -> bool:
        """Buffer one more non-empty batch; False when the table is exhausted."""
        while not self._done:
            nxt = next(self._batches, None)
            if nxt is None:
                self._done = True
            elif nxt.height:
                self._buf.append(nxt)
                return True
        return False

    def upto(self, hi: int) -> pl.DataFrame | None:
        """Every not yet returned row with ``seq <= hi`` (None once the table is exhausted and empty)."""
        while (not self._buf or int(self._buf[-1]["seq"][-1]) <= hi) and self._fill():
            pass
        if not self._buf:
            return None
        cur = pl.concat(self._buf) if len(self._buf) > 1 else self._buf[0]
        k = int(np.searchsorted(cur["seq"].to_numpy(), hi, side="right"))
        self._buf = [cur[k:]] if k < cur.height else []
        return cur[:k]

    def next_seq(self, rows: int) -> int | None:
        """The seq of the ``rows``-th pending row (the last pending one when fewer remain), or None
        when no row is pending."""
        while sum(b.height for b in self._buf) < rows and self._fill():
            pass
        if not self._buf:
            return None
        k = rows
        for b in self._buf:
            if k <= b.height:
                return int(b["seq"][k - 1])
            k -= b.height
        return int(self._buf[-1]["seq"][-1])


__all__ = [
    "Dataset",
    "PartWriter",
    "SeqCursor",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "file_digest",
    "write_parquet",
]
