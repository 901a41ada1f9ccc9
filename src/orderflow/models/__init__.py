"""Models of the research stage: direction classifiers and baselines, quantile models with conformal
calibration, purged + embargoed splits, and :func:`run_research` (the stage end to end).

``ResearchConfig`` is the ``[research]`` section of the pipeline config.
"""

from orderflow.models.classifiers import (
    LGBMDirectionClassifier,
    MajorityClassifier,
    SignClassifier,
    logistic_baseline,
)
from orderflow.models.config import CVConfig, EvalConfig, ModelConfig, ResearchConfig
from orderflow.models.quantile import (
    DEFAULT_LEVELS,
    ConformalQuantileCalibrator,
    LGBMQuantileRegressor,
    LinearQuantileRegressor,
    conformal_quantile,
)
from orderflow.models.research import ResearchResult, decide, evaluate, run_research
from orderflow.models.splits import CombinatorialPurgedCV, PurgedWalkForward, purge, windows_overlap

__all__ = [
    "DEFAULT_LEVELS",
    "CVConfig",
    "CombinatorialPurgedCV",
    "ConformalQuantileCalibrator",
    "EvalConfig",
    "LGBMDirectionClassifier",
    "LGBMQuantileRegressor",
    "LinearQuantileRegressor",
    "MajorityClassifier",
    "ModelConfig",
    "PurgedWalkForward",
    "ResearchConfig",
    "ResearchResult",
    "SignClassifier",
    "conformal_quantile",
    "decide",
    "evaluate",
    "logistic_baseline",
    "purge",
    "run_research",
    "windows_overlap",
]
