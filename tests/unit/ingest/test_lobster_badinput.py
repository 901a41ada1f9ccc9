"""Bad LOBSTER input: each case is a real AAPL pair (first 30 rows) broken in one place in tmp_path.

Every error must be a DataFormatError naming the file, the 1-based line and the field; the CLI
prints it as one line and exits 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from orderflow.core.errors import DataFormatError
from orderflow.ingest.lobster import read_lobster, read_lobster_raw
from orderflow.ingest.lobster_verify import verify_lobster

pytestmark = pytest.mark.realdata

AAPL = "lobster/AAPL_2012-06-21_10_first999rows/AAPL_2012-06-21_34200000_57600000_{}_10.csv"
N = 30


@pytest.fixture
def real(shared_data, tmp_path):  # type: ignore[no-untyped-def]
    """(message lines, orderbook lines, writer) for the first N real AAPL rows."""
    msgs = shared_data(AAPL.format("message")).read_text().splitlines()[:N]
    books = shared_data(AAPL.format("orderbook")).read_text().splitlines()[:N]

    def write(m: list[str], b: list[str], *, m_end: str = "\n", b_end: str = "\n") -> tuple[Path, Path]:
        mp = tmp_path / Path(AAPL.format("message")).name
        bp = tmp_path / Path(AAPL.format("orderbook")).name
        mp.write_text("\n".join(m) + m_end)
        bp.write_text("\n".join(b) + b_end)
        return mp, bp

    return msgs, books, write


def _set_field(line: str, k: int, value: str) -> str:
    f = line.split(",")
    f[k] = value
    return ",".join(f)


def _expect(paths: tuple[Path, Path], which: int, line: int | None, field: str | None, match: str) -> None:
    with pytest.raises(DataFormatError, match=match) as ei:
        read_lobster(*paths)
    e = ei.value
    assert e.path == str(paths[which])
    assert e.line == line
    assert e.field == field
    assert str(paths[which]) in str(e)
    if line is not None:
        assert f"line {line}" in str(e)
    # verify reads through the same checks
    with pytest.raises(DataFormatError):
        verify_lobster(*paths)


def test_clean_sample_reads(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    day = read_lobster(*write(msgs, books, m_end="", b_end=""))  # no trailing newline is fine
    assert day.snapshots.height == N
    assert read_lobster(*write(msgs, books)).deltas.equals(day.deltas)


def test_wrong_column_count(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    msgs[4] = ",".join(msgs[4].split(",")[:5])
    _expect(write(msgs, books), 0, 5, "direction", "expected 6 comma-separated fields, found 5")


def test_extra_column(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    books[9] = books[9] + ",7"
    _expect(write(msgs, books), 1, 10, None, "expected 40 comma-separated fields, found 41")


def test_non_numeric_field(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    msgs[6] = _set_field(msgs[6], 3, "1O0")
    _expect(write(msgs, books), 0, 7, "size", "'1O0' is not an integer")


def test_empty_field(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    books[2] = _set_field(books[2], 5, "")
    _expect(write(msgs, books), 1, 3, "ask_size_2", "empty is not an integer")


def test_bad_time(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    msgs[11] = _set_field(msgs[11], 0, "34200.1234567891")  # 10 decimals
    _expect(write(msgs, books), 0, 12, "time", "at most 9 decimals")
    msgs[11] = _set_field(msgs[11], 0, "9:30:00")
    _expect(write(msgs, books), 0, 12, "time", "seconds after midnight")


def test_unknown_event_type(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    msgs[7] = _set_field(msgs[7], 1, "8")
    _expect(write(msgs, books), 0, 8, "type", "unknown event type")


def test_negative_size(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    msgs[3] = _set_field(msgs[3], 3, "-18")
    _expect(write(msgs, books), 0, 4, "size", "size must be >= 0")


def test_negative_book_size(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    books[20] = _set_field(books[20], 3, "-5")
    _expect(write(msgs, books), 1, 21, "bid_size_1", "bid size must be >= 0")


def test_bad_direction(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    msgs[14] = _set_field(msgs[14], 5, "0")
    _expect(write(msgs, books), 0, 15, "direction", "direction must be 1")


def test_different_lengths(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    _expect(write(msgs, books[:-2]), 0, N - 1, None, "message file has 30 rows but orderbook file has 28")
    _expect(write(msgs[:-1], books), 1, N, None, "message file has 29 rows but orderbook file has 30")


def test_cut_off_mid_row(real, tmp_path) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    mp, bp = write(msgs, books)
    data = mp.read_bytes()
    mp.write_bytes(data[: len(data) - 9])  # last row loses its price's tail and the direction
    _expect((mp, bp), 0, N, "direction", r"found 5 \(file cut off mid-row\?\)")
    mp.write_bytes(data[: len(data) - 2])  # only the final digit and newline lost: "-" or ""
    _expect((mp, bp), 0, N, "direction", "is not an integer")
    mp, bp = write(msgs, books)
    data = bp.read_bytes()
    bp.write_bytes(data[: len(data) - 100])
    with pytest.raises(DataFormatError, match=r"cut off mid-row") as ei:
        read_lobster(mp, bp)
    assert ei.value.line == N


def test_unsorted_book_row(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    f = books[5].split(",")
    f[0], f[4] = f[4], f[0]  # swap ask prices of levels 1 and 2
    books[5] = ",".join(f)
    _expect(write(msgs, books), 1, 6, "ask_price_2", "ask prices must strictly increase")


def test_blank_line_and_empty_file(real) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    _expect(write([*msgs[:3], "", *msgs[4:]], books), 0, 4, None, "blank line")
    mp, bp = write(msgs, books)
    mp.write_text("")
    _expect((mp, bp), 0, 1, None, "file is empty")


def test_missing_file_and_unparsable_name(real, tmp_path) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    mp, bp = write(msgs, books)
    with pytest.raises(DataFormatError, match="file not found"):
        read_lobster(tmp_path / "nope_message.csv", bp)
    other = tmp_path / "msgs.csv"
    other.write_bytes(mp.read_bytes())
    ob = tmp_path / "book.csv"
    ob.write_bytes(bp.read_bytes())
    with pytest.raises(DataFormatError, match="pass ticker= and date="):
        read_lobster(other, ob)
    day = read_lobster(other, ob, ticker="AAPL", date="2012-06-21")
    assert day.levels == 10 and day.instrument.symbol == "AAPL"
    messages, tod, _, levels = read_lobster_raw(other, ob)
    assert (messages.height, levels, int(tod[0])) == (N, 10, 34_200_004_241_176)


def test_level_count_disagrees_with_name(real, tmp_path) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    mp, bp = write(msgs, books)
    wrong = tmp_path / bp.name.replace("_10.csv", "_5.csv")
    bp.rename(wrong)
    with pytest.raises(DataFormatError, match=r"file names disagree"):
        read_lobster(mp, wrong)


def test_cli_one_line_exit_2(real, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from orderflow.cli.main import main

    msgs, books, write = real
    msgs[7] = _set_field(msgs[7], 1, "9")
    mp, bp = write(msgs, books)
    for argv in (["verify", "lobster", str(mp), str(bp), "--json"], ["ingest", "lobster", str(mp), str(bp), "--out",
                                                                      str(mp.parent / "out")]):  # fmt: skip
        monkeypatch.setattr(sys, "argv", ["orderflow", *argv])
        with pytest.raises(SystemExit) as ei:
            main()
        assert ei.value.code == 2
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err
        assert err.startswith("error:")
        assert "line 8" in err and "field 'type'" in err
        assert len(err.splitlines()) <= 2  # rich may wrap a long path; the message is one logical line


def test_names_disagree_on_date(real, tmp_path) -> None:  # type: ignore[no-untyped-def]
    msgs, books, write = real
    mp, bp = write(msgs, books)
    wrong = tmp_path / bp.name.replace("2012-06-21", "2012-06-22")
    bp.rename(wrong)
    with pytest.raises(DataFormatError, match=r"file names disagree"):
        read_lobster(mp, wrong)
