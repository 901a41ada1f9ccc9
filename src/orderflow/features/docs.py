"""FEATURE_DOCS: every built-in feature column with its formula, source, unit and warm-up.

Names with ``{k}``, ``{m}``, ``{Q}``, ``{W}`` are patterns: ``imb_l{k}`` stands for ``imb_l1`` ..
``imb_l{levels}``. Notation: b_k, a_k = bid/ask price at level k (k = 1 best), qb_k, qa_k = their sizes
(in the instrument's natural units), mid = (b_1 + a_1)/2, tick = instrument tick size, n = book update
index, "interval" = the rows since the previous clock tick. Levels are occupied price levels (DBN mbp-N).
Every feature at a row uses only book rows, trades and deltas at or before that row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureDoc:
    """Documentation of one feature column (or a pattern of columns)."""

    formula: str
    source: str
    unit: str
    warmup: str
    group: str = ""


_D = FeatureDoc
FEATURE_DOCS: dict[str, FeatureDoc] = {
    "mid": _D("(b_1 + a_1) / 2; NaN when a side is empty", "-", "currency", "0", "always"),
    "spread_ticks": _D("(a_1 - b_1) / tick", "-", "ticks", "0", "spread"),
    "spread_bps": _D("(a_1 - b_1) / mid * 1e4", "-", "bps", "0", "spread"),
    "wmid": _D(
        "(qb_1 * a_1 + qa_1 * b_1) / (qb_1 + qa_1): size-weighted mid",
        "Stoikov 2018 (as 'weighted mid')",
        "currency",
        "0",
        "wmid",
    ),
    "wmid_dev_ticks": _D("(wmid - mid) / tick", "-", "ticks", "0", "wmid"),
    "microprice": _D(
        "mid + g*(I, S) * tick, g* = sum_{k<K} B^k G1 with G1 = (1-Q)^-1 R1, B = (1-Q)^-1 T estimated "
        "from training transitions of (imbalance bucket, spread) (MicropriceEstimator)",
        "Stoikov 2018, Quantitative Finance 18(12)",
        "currency",
        "microprice_fit_window when fitted in place (NaN before); 0 with a pre-fitted model",
        "microprice",
    ),
    "microprice_adj_ticks": _D(
        "g*(I, S): microprice - mid", "Stoikov 2018", "ticks", "as microprice", "microprice"
    ),
    "imb_l{k}": _D(
        "(sum_{j<=k} qb_j - sum_{j<=k} qa_j) / (sum_{j<=k} qb_j + sum_{j<=k} qa_j)",
        "depth imbalance, e.g. Cao, Hansch, Wang 2009; Cartea, Jaimungal, Penalva 2015",
        "ratio in [-1, 1]",
        "0",
        "imbalance",
    ),
    "ofi_l1": _D(
        "sum over the interval of e_n = 1{b_n >= b_n-1} qb_n - 1{b_n <= b_n-1} qb_n-1 "
        "- 1{a_n <= a_n-1} qa_n + 1{a_n >= a_n-1} qa_n-1 (best level)",
        "Cont, Kukanov, Stoikov 2014, J. Financial Econometrics 12(1)",
        "size (natural units)",
        "1 book row (NaN on the first row of the event clock)",
        "ofi",
    ),
    "mlofi_l{m}": _D(
        "e_n computed on the m-th occupied level, summed over the interval (empty bid level: price "
        "-inf, empty ask level: +inf, size 0)",
        "Xu, Gould, Howison 2019 (multi-level OFI)",
        "size (natural units)",
        "1 book row",
        "mlofi",
    ),
    "sweep_bps_buy_{Q}": _D(
        "buy Q by walking the displayed asks (orderflow.book.sweep.walk_book): "
        "(avg fill price / mid - 1) * 1e4 over the part the book can fill",
        "-",
        "bps",
        "0",
        "sweep",
    ),
    "sweep_bps_sell_{Q}": _D(
        "(1 - avg fill price / mid) * 1e4 selling Q into the displayed bids", "-", "bps", "0", "sweep"
    ),
    "sweep_fill_buy_{Q}": _D(
        "displayed ask depth fillable / Q (1 = Q fully fillable); Q in size or notional",
        "-",
        "fraction",
        "0",
        "sweep",
    ),
    "sweep_fill_sell_{Q}": _D("displayed bid depth fillable / Q", "-", "fraction", "0", "sweep"),
    "depth_bid_l{k}": _D("qb_k", "-", "size (natural units)", "0", "depth"),
    "depth_ask_l{k}": _D("qa_k", "-", "size (natural units)", "0", "depth"),
    "cumdepth_bid_l{k}": _D("sum_{j<=k} qb_j", "-", "size (natural units)", "0", "depth"),
    "cumdepth_ask_l{k}": _D("sum_{j<=k} qa_j", "-", "size (natural units)", "0", "depth"),
    "book_slope_bid": _D(
        "least-squares slope through the origin of cumulative bid depth D_k on distance from mid "
        "d_k (ticks), k <= levels: sum d_k D_k / sum d_k^2",
        "book slope, after Naes and Skjeltorp 2006",
        "size per tick",
        "0",
        "shape",
    ),
    "book_slope_ask": _D(
        "as book_slope_bid on the asks", "Naes and Skjeltorp 2006", "size per tick", "0", "shape"
    ),
    "depth_conc_bid": _D(
        "qb_1 / sum_{k<=levels} qb_k: share of displayed depth at the touch", "-", "fraction", "0", "shape"
    ),
    "depth_conc_ask": _D("qa_1 / sum_{k<=levels} qa_k", "-", "fraction", "0", "shape"),
    "depth_center_bid_ticks": _D(
        "sum_k qb_k d_k / sum_k qb_k: depth-weighted distance from mid", "-", "ticks", "0", "shape"
    ),
    "depth_center_ask_ticks": _D("sum_k qa_k d_k / sum_k qa_k", "-", "ticks", "0", "shape"),
    "signed_volume": _D(
        "sum over the interval of aggressor * size (TRADES; unknown aggressor counts 0)",
        "-",
        "size (natural units)",
        "0",
        "trade_flow",
    ),
    "buy_volume": _D(
        "buyer-initiated volume in the interval", "-", "size (natural units)", "0", "trade_flow"
    ),
    "sell_volume": _D(
        "seller-initiated volume in the interval", "-", "size (natural units)", "0", "trade_flow"
    ),
    "trade_count": _D("number of TRADES rows in the interval", "-", "count", "0", "trade_flow"),
    "tfi": _D(
        "(buy_volume - sell_volume) / (buy_volume + sell_volume); NaN without signed trades",
        "trade-flow imbalance (e.g. Silantyev 2019)",
        "ratio in [-1, 1]",
        "0",
        "trade_flow",
    ),
    "lam_{add,cancel,trade}_{bid,ask}_hz": _D(
        "exponentially decayed arrival rate: lam <- lam * exp(-dt / tau) + N / tau, N = BOOK_DELTAS rows with action "
        "ADD / REDUCE / EXECUTE on that side arriving with the row; tau = intensity_tau. On absolute-size (SET) "
        "feeds add/cancel rates are NaN and trade rates count TRADES on the resting side",
        "Hawkes-free decayed counts (cf. Cartea, Jaimungal, Penalva 2015 ch. 4)",
        "events per second",
        "about 3 tau to forget the start",
        "intensity",
    ),
    "cancel_to_trade": _D(
        "(lam_cancel_bid + lam_cancel_ask) / (lam_trade_bid + lam_trade_ask)",
        "-",
        "ratio",
        "about 3 tau",
        "intensity",
    ),
    "queue_rel_bid": _D(
        "qb_1 / EWMA(qb_1) with span queue_window_events book updates",
        "-",
        "ratio",
        "about queue_window_events rows",
        "queue",
    ),
    "queue_rel_ask": _D("qa_1 / EWMA(qa_1)", "-", "ratio", "about queue_window_events rows", "queue"),
    "touch_age_bid_s": _D(
        "ts - ts of the last change of the best bid price",
        "-",
        "seconds",
        "0 (counted from the first row)",
        "queue",
    ),
    "touch_age_ask_s": _D("ts - ts of the last change of the best ask price", "-", "seconds", "0", "queue"),
    "touch_depletion_bid": _D(
        "liquidity consumption: decayed rate of size removed from the best-bid queue "
        "(size decrease at an unchanged price, whole queue when the bid falls): "
        "r <- r exp(-dt / tau) + removed / tau",
        "-",
        "size per second",
        "about 3 tau",
        "queue",
    ),
    "touch_depletion_ask": _D(
        "as touch_depletion_bid on the best ask", "-", "size per second", "about 3 tau", "queue"
    ),
    "vpin": _D(
        "sum over the last n volume buckets of |V_buy - V_sell| / (n V); trade signs from the aggressor, "
        "else bulk volume classification per trade: buy share Phi(dP / sigma_dP) with an EWMA sigma",
        "Easley, Lopez de Prado, O'Hara 2012, Review of Financial Studies 25(5)",
        "fraction in [0, 1]",
        "vpin_n_buckets complete buckets (NaN before)",
        "vpin",
    ),
    "kyle_lambda_w{W}": _D(
        "OLS slope of mid change (ticks) on signed_volume over the last W clock ticks",
        "Kyle 1985; Hasbrouck 2007 ch. 5",
        "ticks per size unit",
        "W clock ticks (NaN before)",
        "kyle",
    ),
    "rv_w{W}": _D(
        "sum of the last W squared log mid returns between clock ticks",
        "Andersen, Bollerslev 1998",
        "log-return^2 over W ticks",
        "W clock ticks",
        "volatility",
    ),
    "bv_w{W}": _D(
        "(pi / 2) sum_{j=2..W} |r_j| |r_j-1| over the last W log mid returns",
        "Barndorff-Nielsen, Shephard 2004",
        "log-return^2 over W ticks",
        "W clock ticks",
        "volatility",
    ),
}


def doc_for(column: str) -> FeatureDoc | None:
    """The FeatureDoc of a concrete column name (``imb_l3`` -> the ``imb_l{k}`` entry)."""
    if column in FEATURE_DOCS:
        return FEATURE_DOCS[column]
    for pattern, doc in FEATURE_DOCS.items():
        if "{" not in pattern:
            continue
        rx = re.escape(pattern)
        rx = re.sub(
            r"\\\{(add,cancel,trade|bid,ask)\\\}", lambda m: "(" + m.group(1).replace(",", "|") + ")", rx
        )
        rx = re.sub(r"\\\{[A-Za-z]+\\\}", r"[0-9.]+(ccy)?", rx)
        if re.fullmatch(rx, column):
            return doc
    return None


def docs_markdown() -> str:
    """Markdown table of FEATURE_DOCS (for the documentation)."""
    rows = ["| feature | group | formula | unit | warm-up | source |", "|---|---|---|---|---|---|"]
    for name, d in FEATURE_DOCS.items():
        rows.append(f"| `{name}` | {d.group} | {d.formula} | {d.unit} | {d.warmup} | {d.source} |")
    return "\n".join(rows)


__all__ = ["FEATURE_DOCS", "FeatureDoc", "doc_for", "docs_markdown"]
