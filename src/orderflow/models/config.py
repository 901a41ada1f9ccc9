"""The research stage's configuration: regimes, labels, models, cross-validation and evaluation sections."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orderflow.core.time import parse_duration_ns
from orderflow.labels.core import LabelConfig
from orderflow.models.quantile import DEFAULT_LEVELS
from orderflow.regimes.inputs import RegimeConfig


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelConfig(_Frozen):
    """Estimators fitted inside each training fold.

    ``features`` empty means every numeric FEATURES column except ``ts_event``/``seq`` and ``exclude``. The decision rule
    goes long when the ``decision_quantile`` of the long executable return clears ``decision_threshold_bps``
    and short when the same quantile of the short executable return does (equivalently: the upper
    ``1 - decision_quantile`` quantile of the short side's signed price move is below ``-threshold``).
    """

    features: tuple[str, ...] = ()
    exclude: tuple[str, ...] = Field(
        ("mid", "wmid", "microprice"),
        description="columns never used as features (price levels are not stationary)",
    )
    ofi_column: str = "ofi_l1"
    microprice_columns: tuple[str, ...] = Field(
        ("microprice_adj_ticks", "microprice_minus_mid", "wmid_dev_ticks"),
        description="candidates for the sign-of-(microprice - mid) baseline; the first present is used",
    )
    regime_features: bool = Field(True, description="add the filtered regime probabilities as features")
    class_balance: Literal["pooled", "regime"] = Field(
        "pooled",
        description="LightGBM class weights: 'pooled' balances the classes over all training rows; 'regime' "
        "balances them inside each regime (the flat band scales with the regime, so flat is common in a calm "
        "regime and rare in a volatile one; pooled weights then push the volatile regime away from flat)",
    )
    n_estimators: int = Field(150, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(15, ge=2)
    min_child_samples: int = Field(200, ge=1)
    logistic: bool = True
    quantile_model: Literal["lgbm", "linear"] = "lgbm"
    quantile_levels: tuple[float, ...] = DEFAULT_LEVELS
    quantile_estimators: int = Field(100, ge=1)
    conformal: bool = True
    conformal_by_regime: bool = True
    calibration_fraction: float = Field(0.25, gt=0, lt=1)
    decision_quantile: float = Field(0.25, gt=0, lt=0.5)
    decision_threshold_bps: float = 0.0
    max_train_rows: int = Field(400_000, ge=100, description="most recent training rows used per fold")
    leakage_test: bool = Field(
        True, description="refit on permuted training labels; OOS macro F1 must be at chance"
    )
    n_jobs: int = Field(2, ge=1, le=2)
    random_state: int = 0

    @field_validator("quantile_levels")
    @classmethod
    def _levels(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(not 0 < q < 1 for q in v):
            raise ValueError("quantile levels must lie in (0, 1)")
        return tuple(sorted(v))

    @model_validator(mode="after")
    def _decision_level(self) -> ModelConfig:
        if not any(abs(q - self.decision_quantile) < 1e-12 for q in self.quantile_levels):
            raise ValueError(
                f"decision_quantile {self.decision_quantile} is not one of quantile_levels {self.quantile_levels}"
            )
        return self


class CVConfig(_Frozen):
    """Purged, embargoed validation. ``embargo`` is a duration (``"1s"``) after each test block."""

    scheme: Literal["walk_forward", "cpcv"] = "walk_forward"
    n_splits: int = Field(4, ge=1)
    embargo: str = "1s"
    max_train_blocks: int | None = Field(None, ge=1)
    n_groups: int = Field(6, ge=2)
    n_test_groups: int = Field(2, ge=1)

    @field_validator("embargo")
    @classmethod
    def _emb(cls, v: str) -> str:
        parse_duration_ns(v)
        return v

    @property
    def embargo_ns(self) -> int:
        return parse_duration_ns(self.embargo)


class EvalConfig(_Frozen):
    """Evaluation: figure output, transition window and the threshold grid behind the deflated Sharpe ratio."""

    figures: bool = True
    transition_window: int = Field(50, ge=1, description="rows after a regime change counted as 'transition'")
    dsr_thresholds_bps: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0)
    calibration_bins: int = Field(10, ge=2)


class ResearchConfig(_Frozen):
    """Regimes -> labels -> models -> evaluation (the ``[research]`` section of the pipeline config)."""

    regimes: RegimeConfig = RegimeConfig()
    labels: LabelConfig = LabelConfig()
    model: ModelConfig = ModelConfig()
    cv: CVConfig = CVConfig()
    eval: EvalConfig = EvalConfig()
    seed: int = 0


__all__ = ["CVConfig", "EvalConfig", "ModelConfig", "ResearchConfig"]
