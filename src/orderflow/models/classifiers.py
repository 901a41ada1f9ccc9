"""Direction classifiers (scikit-learn style): LightGBM, a logistic baseline and trivial baselines.

Conventions (DESIGN.md §5): ``__init__`` stores hyperparameters only, validation happens in ``fit``,
``fit`` returns ``self``, learned state ends with ``_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

FloatArray = NDArray[np.float64]


class MajorityClassifier(ClassifierMixin, BaseEstimator):
    """Always predicts the most frequent training class (ties: the smallest label)."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True  # a baseline by design
        tags.input_tags.allow_nan = True  # NaN features (warm-up) are fine: a NaN signal means "flat"
        return tags

    def fit(self, X: Any, y: Any) -> MajorityClassifier:
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = int(np.argmax(counts))
        self.prior_ = counts / counts.sum()
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.tile(self.prior_, (X.shape[0], 1))

    def predict(self, X: Any) -> NDArray[Any]:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.full(X.shape[0], self.classes_[self.majority_])


class SignClassifier(ClassifierMixin, BaseEstimator):
    """Predicts "up" when feature ``column`` > ``threshold``, "down" when < -``threshold``, else "flat".

    "up" is the largest class label, "down" the smallest, "flat" the middle one (with 3 classes) or the
    majority class otherwise. The baselines "sign of OFI" and "sign of microprice minus mid" are instances.
    """

    def __init__(self, column: int = 0, threshold: float = 0.0) -> None:
        self.column = column
        self.threshold = threshold

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True  # a baseline by design
        tags.input_tags.allow_nan = True  # NaN features (warm-up) are fine: a NaN signal means "flat"
        return tags

    def fit(self, X: Any, y: Any) -> SignClassifier:
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        if not 0 <= int(self.column) < X.shape[1]:
            raise ValueError(f"column {self.column} out of range for {X.shape[1]} features")
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {self.threshold}")
        self.classes_, counts = np.unique(y, return_counts=True)
        k = len(self.classes_)
        self.flat_index_ = k // 2 if k == 3 else int(np.argmax(counts))
        return self

    def _index(self, X: Any) -> NDArray[np.int64]:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        x = np.asarray(X[:, int(self.column)], dtype=np.float64)
        idx = np.full(x.shape[0], self.flat_index_, dtype=np.int64)
        idx[x > self.threshold] = len(self.classes_) - 1
        idx[x < -self.threshold] = 0
        return idx

    def predict(self, X: Any) -> NDArray[Any]:
        idx = self._index(X)
        return np.asarray(self.classes_[idx])

    def predict_proba(self, X: Any) -> FloatArray:
        idx = self._index(X)
        out = np.zeros((idx.shape[0], len(self.classes_)))
        out[np.arange(idx.shape[0]), idx] = 1.0
        return out


class LGBMDirectionClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM multiclass (binary when 2 classes) with deterministic, thread-capped defaults."""

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        class_weight: str | None = "balanced",
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LGBMDirectionClassifier:
        """Fit; ``sample_weight`` (per row) multiplies the ``class_weight`` weights."""
        import lightgbm as lgb

        X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        self.classes_, yi = np.unique(y, return_inverse=True)
        if self.n_jobs > 2:
            raise ValueError("n_jobs must be <= 2 on shared machines")
        if len(self.classes_) == 1:
            self.booster_ = None
            return self
        params: dict[str, Any] = {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "class_weight": self.class_weight,
            "n_jobs": self.n_jobs,
            "random_state": self.random_state,
            "verbose": -1,
            "deterministic": True,
            "force_col_wise": True,
        }
        model = lgb.LGBMClassifier(**params)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if sw is not None:
            if sw.shape != (X.shape[0],):
                raise ValueError(f"sample_weight has shape {sw.shape}, expected ({X.shape[0]},)")
            if not np.all(np.isfinite(sw)) or np.any(sw < 0) or not np.any(sw > 0):
                raise ValueError("sample_weight must be finite, >= 0 and not all zero")
        model.fit(X, yi, sample_weight=sw)
        self.booster_ = model
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan")
        if self.booster_ is None:
            return np.ones((X.shape[0], 1))
        return np.asarray(self.booster_.predict_proba(X))

    def predict(self, X: Any) -> NDArray[Any]:
        idx = np.argmax(self.predict_proba(X), axis=1)
        return np.asarray(self.classes_[idx])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # LightGBM routes missing values natively
        return tags


def logistic_baseline(C: float = 1.0, random_state: int = 0) -> Pipeline:
    """Standardize then multinomial logistic regression (scaler fitted inside each training fold)."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500, random_state=random_state))


__all__ = ["LGBMDirectionClassifier", "MajorityClassifier", "SignClassifier", "logistic_baseline"]
