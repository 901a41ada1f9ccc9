"""The pipeline configuration: one TOML file, one frozen pydantic model per stage.

Unknown keys and bad values fail at load time with the key's dotted path
(``features.clock: ...``). ``orderflow config show`` prints the resolved config with every default;
``orderflow config schema`` writes a JSON schema for editors.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orderflow.core.errors import ConfigError
from orderflow.core.execution import ExecutionModel


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LobsterSource(_Frozen):
    """A LOBSTER message + orderbook pair (ticker and date from the file names unless given)."""

    message: str
    orderbook: str
    ticker: str | None = None
    date: str | None = None


class DataConfig(_Frozen):
    """Where the events come from.

    ``source = "simulator"`` (the embedded default, needs no data), ``"lobster"`` (``lobster`` pairs),
    ``"dbn"`` (Databento files), or ``"dataset"`` (a canonical dataset written by ``orderflow ingest``).
    Relative paths resolve against the config file's folder.
    """

    source: Literal["simulator", "lobster", "dbn", "dataset"] = "simulator"
    simulator: dict[str, Any] = Field(
        default_factory=dict, description="orderflow.ingest.simulator.SimConfig fields"
    )
    lobster: list[LobsterSource] = Field(default_factory=list)
    dbn: list[str] = Field(default_factory=list)
    dataset: str | None = None
    instruments: list[str] = Field(
        default_factory=list, description="restrict to these instruments (empty: all)"
    )
    dates: list[str] = Field(
        default_factory=list, description="restrict to these dates YYYY-MM-DD (empty: all)"
    )

    @model_validator(mode="after")
    def _check_source(self) -> DataConfig:
        if self.source == "lobster" and not self.lobster:
            raise ValueError("source 'lobster' needs at least one [[data.lobster]] entry")
        if self.source == "dbn" and not self.dbn:
            raise ValueError("source 'dbn' needs data.dbn = [paths]")
        if self.source == "dataset" and not self.dataset:
            raise ValueError("source 'dataset' needs data.dataset = 'DIR'")
        return self


EDGE_COLUMNS = ("edge_long_bps", "edge_short_neg_bps")
"""PREDICTIONS columns the pipeline's backtest stage adds for ``quantile_taker``: the research's
``decision_quantile`` of the long executable return (``ql_NN``, bps after spread, sweep and fees) and minus
the same quantile of the short executable return (``-qs_NN``). The taker goes long when the first clears
``long_entry`` and short when the second is below ``-short_entry``: exactly the research decision rule."""


class BookConfig(_Frozen):
    depth: int = Field(10, ge=1, le=50, description="levels per side in reconstructed snapshots")


class RunConfig(_Frozen):
    executor: Literal["local", "dask", "serial"] = "local"
    workers: int = Field(2, ge=1)
    scheduler: str | None = Field(
        None, description="dask scheduler address tcp://HOST:PORT (none: LocalCluster)"
    )
    out: str = "runs"
    backtest: bool = True


class PipelineConfig(_Frozen):
    """The whole pipeline. Stage sections are validated by the stages' own models."""

    name: str = "orderflow-run"
    data: DataConfig = DataConfig()
    book: BookConfig = BookConfig()
    filters: dict[str, Any] = Field(default_factory=dict, description="orderflow.filters.FilterConfig fields")
    features: dict[str, Any] = Field(
        default_factory=dict, description="orderflow.features.FeatureConfig fields"
    )
    research: dict[str, Any] = Field(
        default_factory=dict, description="orderflow.models ResearchConfig fields"
    )
    execution: ExecutionModel = ExecutionModel()
    backtest: dict[str, Any] = Field(
        default_factory=dict,
        description="orderflow.backtest.BacktestConfig fields (execution comes from [execution])",
    )
    run: RunConfig = RunConfig()

    # -- typed views of the stage sections (validated at load time) -----------------------------------
    def sim_config(self) -> Any:
        from orderflow.ingest.simulator import SimConfig

        return SimConfig(**self.data.simulator)

    def filter_config(self) -> Any:
        from orderflow.filters import FilterConfig

        return FilterConfig(**self.filters)

    def feature_config(self) -> Any:
        from orderflow.features import FeatureConfig

        return FeatureConfig(**self.features)

    def research_config(self) -> Any:
        from orderflow.models import ResearchConfig

        return ResearchConfig(**self.research)

    def backtest_config(self) -> Any:
        """The backtest section; without a ``[backtest.strategy]`` the pipeline trades the research's
        quantile decisions: ``quantile_taker`` on the :data:`EDGE_COLUMNS` the backtest stage derives
        from PREDICTIONS, entering at the research's ``decision_threshold_bps``."""
        from orderflow.backtest import BacktestConfig

        bt = dict(self.backtest)
        if "strategy" not in bt:
            thr = float(self.research_config().model.decision_threshold_bps)
            bt["strategy"] = {
                "name": "quantile_taker",
                "prediction_columns": EDGE_COLUMNS,
                "params": {"long_entry": thr, "short_entry": thr},
            }
        return BacktestConfig(**{**bt, "execution": self.execution})

    def validate_sections(self) -> None:
        """Validate every stage section with its stage's model (raises ConfigError with the key path)."""
        checks = [
            ("data.simulator", self.sim_config),
            ("filters", self.filter_config),
            ("features", self.feature_config),
            ("research", self.research_config),
            ("backtest", self.backtest_config),
        ]
        for prefix, fn in checks:
            if prefix == "data.simulator" and self.data.source != "simulator":
                continue
            try:
                fn()
            except ValidationError as e:
                raise ConfigError(_format_validation(e, prefix)) from None
            except ImportError:  # stage not installed in this build
                continue


def _format_validation(e: ValidationError, prefix: str = "", source: str = "") -> str:
    msgs = []
    for err in e.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        msgs.append(f"{loc}: {msg}")
    head = f"{source}: " if source else ""
    return head + "; ".join(msgs)


def load_config(path: str | Path | None = None, *, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Load a TOML pipeline config (or defaults when ``path`` is None) and validate every section."""
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        p = Path(path)
        source = str(p)
        if not p.exists():
            raise ConfigError(f"{p}: config file not found")
        try:
            raw = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: invalid TOML ({e})") from None
        raw = _resolve_paths(raw, p.parent)
    if overrides:
        raw = _deep_merge(raw, overrides)
    try:
        cfg = PipelineConfig(**raw)
    except ValidationError as e:
        raise ConfigError(_format_validation(e, source=source)) from None
    try:
        cfg.validate_sections()
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    return cfg


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make data paths relative to the config file's folder absolute."""
    data = dict(raw.get("data", {}))

    def res(s: str) -> str:
        q = Path(s).expanduser()
        return str(q if q.is_absolute() else (base / q).resolve())

    if "lobster" in data:
        data["lobster"] = [
            {**e, "message": res(e["message"]), "orderbook": res(e["orderbook"])}
            if isinstance(e, dict) and "message" in e and "orderbook" in e
            else e
            for e in data["lobster"]
        ]
    if "dbn" in data:
        data["dbn"] = [res(s) if isinstance(s, str) else s for s in data["dbn"]]
    if isinstance(data.get("dataset"), str):
        data["dataset"] = res(data["dataset"])
    if data:
        raw = {**raw, "data": data}
    return raw


def config_json_schema() -> dict[str, Any]:
    return PipelineConfig.model_json_schema()


__all__ = [
    "BookConfig",
    "DataConfig",
    "LobsterSource",
    "PipelineConfig",
    "RunConfig",
    "config_json_schema",
    "load_config",
]
