"""Market regimes from volatility and liquidity: quantile-bucket rules, a Gaussian mixture and a Gaussian HMM.

Fitted on training rows only; assigned causally (the HMM by forward filtering). See
:mod:`orderflow.regimes.models` and :mod:`orderflow.regimes.inputs`.
"""

from orderflow.regimes.inputs import (
    BOOK_INPUTS,
    RegimeConfig,
    align_truth,
    book_regime_inputs,
    regime_agreement,
    regime_inputs,
    regimes_frame,
)
from orderflow.regimes.models import GMMRegimes, HMMRegimes, QuantileRegimes, make_regime_model

__all__ = [
    "BOOK_INPUTS",
    "GMMRegimes",
    "HMMRegimes",
    "QuantileRegimes",
    "RegimeConfig",
    "align_truth",
    "book_regime_inputs",
    "make_regime_model",
    "regime_agreement",
    "regime_inputs",
    "regimes_frame",
]
