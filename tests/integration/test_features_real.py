"""The classic studies end to end on the real LOBSTER samples: ingest -> dataset -> `orderflow study`.

The OFI-impact figures are checked to 1e-6 against an independent computation written here from the
raw vendor CSV files (plain Python loops, no orderflow code), and against the published reference
(slope 0.00254, R^2 0.312, R^2 on signed volume 0.319 for AMZN 2012-06-21 at 10 s).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.realdata

AMZN = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1/AMZN_2012-06-21_34200000_57600000_{}_1.csv"
AAPL10 = "lobster/AAPL_2012-06-21_10_first999rows/AAPL_2012-06-21_34200000_57600000_{}_10.csv"


def raw(msg: Path, book: Path) -> tuple[list[int], list[int], list[int], list[list[int]]]:
    """(time ns after midnight, type, signed execution volume, book rows) straight from the CSV text."""
    t, typ, sv = [], [], []
    for line in msg.read_text().split("\n"):
        if not line.strip():
            continue
        f = line.split(",")
        s, _, frac = f[0].partition(".")
        t.append(int(s) * 1_000_000_000 + int((frac + "000000000")[:9]))
        typ.append(int(f[1]))
        sv.append(-int(f[5]) * int(f[3]) if f[1] in ("4", "5") else 0)
    rows = [[int(x) for x in line.split(",")] for line in book.read_text().split("\n") if line.strip()]
    return t, typ, sv, rows


def independent_ofi_study(
    t: list[int], sv: list[int], rows: list[list[int]], T: int, levels: int
) -> dict[str, object]:
    start = 34_200 * 1_000_000_000
    K = (t[-1] - start) // T + 1
    ofi = np.zeros((levels, K))
    vol = np.zeros(K)
    last = [-1] * K
    for n in range(len(t)):
        k = (t[n] - start) // T
        last[k] = n
        vol[k] += sv[n]
        if n == 0:
            continue
        for m in range(levels):
            pa, qa, pb, qb = rows[n][4 * m : 4 * m + 4]
            pa0, qa0, pb0, qb0 = rows[n - 1][4 * m : 4 * m + 4]
            ofi[m, k] += (pb >= pb0) * qb - (pb <= pb0) * qb0 - (pa <= pa0) * qa + (pa >= pa0) * qa0
    dp = np.zeros(K)
    prev = 0
    for k in range(K):
        if last[k] >= 0:
            cur = last[k]
            dp[k] = ((rows[cur][0] + rows[cur][2]) - (rows[prev][0] + rows[prev][2])) / 200.0
            prev = cur

    def ols(X: np.ndarray) -> tuple[np.ndarray, float]:
        A = np.column_stack([np.ones(K), X])
        b = np.linalg.lstsq(A, dp, rcond=None)[0]
        r = dp - A @ b
        return b, 1 - (r @ r) / ((dp - dp.mean()) @ (dp - dp.mean()))

    b, r2 = ols(ofi[0])
    bv, r2v = ols(vol)
    _, r2m = ols(ofi.T)
    return {
        "intervals": K,
        "slope": b[1],
        "intercept": b[0],
        "r2": r2,
        "r2_volume": r2v,
        "slope_volume": bv[1],
        "r2_mlofi": r2m,
    }


def ingest(tmp_path: Path, msg: Path, book: Path) -> Path:
    from orderflow.cli.main import app

    out = tmp_path / "ds"
    res = CliRunner().invoke(app, ["ingest", "lobster", str(msg), str(book), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def study(*args: str) -> dict[str, object]:
    from orderflow.cli.main import app

    res = CliRunner().invoke(app, ["study", *args, "--json"])
    assert res.exit_code == 0, res.output
    out: dict[str, object] = json.loads(res.stdout)
    return out


def test_ofi_impact_amzn_10s(shared_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    msg, book = shared_data(AMZN.format("message")), shared_data(AMZN.format("orderbook"))
    t, _, sv, rows = raw(msg, book)
    exp = independent_ofi_study(t, sv, rows, 10_000_000_000, 1)
    got = study("ofi-impact", str(ingest(tmp_path, msg, book)), "--interval", "10s")
    assert got["intervals"] == exp["intervals"] == 2340
    for k in ("slope", "intercept", "r2", "r2_volume", "slope_volume", "r2_mlofi"):
        assert got[k] == pytest.approx(exp[k], abs=1e-6, rel=1e-9), k
    # the published reference figures (3 significant digits)
    assert round(float(got["slope"]), 5) == 0.00254  # type: ignore[arg-type]
    assert round(float(got["r2"]), 3) == 0.312  # type: ignore[arg-type]
    assert round(float(got["r2_volume"]), 3) == 0.319  # type: ignore[arg-type]


def test_ofi_impact_aapl_10_levels(shared_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    msg, book = shared_data(AAPL10.format("message")), shared_data(AAPL10.format("orderbook"))
    t, _, sv, rows = raw(msg, book)
    exp = independent_ofi_study(t, sv, rows, 2_000_000_000, 10)
    got = study("ofi-impact", str(ingest(tmp_path, msg, book)), "--interval", "2s")
    assert got["mlofi_levels"] == 10
    for k in ("slope", "r2", "r2_volume", "r2_mlofi"):
        assert got[k] == pytest.approx(exp[k], abs=1e-6, rel=1e-9), k
    assert float(got["r2_mlofi"]) >= float(got["r2"])  # type: ignore[arg-type]


def test_microprice_study_amzn(shared_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    msg, book = shared_data(AMZN.format("message")), shared_data(AMZN.format("orderbook"))
    t, _, _, rows = raw(msg, book)
    got = study("microprice", str(ingest(tmp_path, msg, book)), "--horizon", "1s")
    # independent MSE of the mid and weighted-mid forecasts on the same split (ticks^2)
    ts = np.array(t)
    r = np.array(rows, dtype=np.float64)
    mid = (r[:, 0] + r[:, 2]) / 200.0
    wmid = (r[:, 3] * r[:, 0] + r[:, 1] * r[:, 2]) / (r[:, 1] + r[:, 3]) / 100.0
    split = ts[0] + int(0.5 * (ts[-1] - ts[0]))
    tgt = mid[np.searchsorted(ts, ts + 1_000_000_000, side="right") - 1]
    ok = (ts >= split) & (ts + 1_000_000_000 <= ts[-1])
    assert got["n_test_rows"] == int(ok.sum())
    assert got["mse_mid"] == pytest.approx(float(((mid - tgt)[ok] ** 2).mean()), rel=1e-9)
    assert got["mse_weighted_mid"] == pytest.approx(float(((wmid - tgt)[ok] ** 2).mean()), rel=1e-9)
    assert float(got["mse_microprice"]) < float(got["mse_mid"])  # type: ignore[arg-type]


def test_features_cli_on_ingested_amzn(shared_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`orderflow features` streams the ingested day in chunks; OFI equals the plain loop on the CSV."""
    from orderflow.cli.main import app
    from orderflow.core.io import Dataset

    msg, book = shared_data(AMZN.format("message")), shared_data(AMZN.format("orderbook"))
    t, _, _, rows = raw(msg, book)
    ds = ingest(tmp_path, msg, book)
    cfg = tmp_path / "f.toml"
    cfg.write_text(
        '[features]\nnames = ["spread", "imbalance", "ofi", "sweep", "trade_flow", "intensity", "queue", "vpin",'
        ' "kyle", "volatility", "microprice"]\nlevels = 1\nchunk_rows = 5000\nvpin_bucket_volume = 5000\n'
    )
    res = CliRunner().invoke(app, ["features", str(ds), "--config", str(cfg), "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    f = Dataset(ds).read("features", "AMZN", "2012-06-21")
    assert f.height == len(rows) == 57_515
    e = [
        (r[2] >= p[2]) * r[3] - (r[2] <= p[2]) * p[3] - (r[0] <= p[0]) * r[1] + (r[0] >= p[0]) * p[1]
        for p, r in itertools.pairwise(rows)
    ]
    assert f["ofi_l1"].to_list()[1:] == [float(x) for x in e]
    assert f["spread_ticks"].to_list() == [(r[0] - r[2]) / 100 for r in rows]
    # micro-price: NaN during its 30 min fitting window, defined after it
    ts = np.array(t)
    mp = f["microprice"].to_numpy()
    inside = ts < ts[0] + 30 * 60 * 1_000_000_000
    assert np.isnan(mp[inside]).all() and np.isfinite(mp[~inside]).all()
