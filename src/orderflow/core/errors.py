"""One small exception tree. The CLI turns any ``OrderflowError`` into one line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path


class OrderflowError(Exception):
    """Base of every error a user can cause and fix."""

    exit_code = 2


class ConfigError(OrderflowError):
    """A configuration key is unknown or its value is invalid (the message names the key path)."""


class DataFormatError(OrderflowError):
    """Input data does not follow its format.

    The message names the file, the line (1-based) or byte offset, the field and the rule broken.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        offset: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.offset = offset
        self.field = field
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SchemaError(OrderflowError):
    """A table does not match its canonical schema (names the table, column and rule)."""


class SequenceGapError(OrderflowError):
    """A sequence or update-id gap that the caller asked to treat as fatal."""


class ArtifactError(OrderflowError):
    """A stored artifact is missing or corrupted."""


__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataFormatError",
    "OrderflowError",
    "SchemaError",
    "SequenceGapError",
]
