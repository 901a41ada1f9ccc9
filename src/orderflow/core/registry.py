"""Plug-in registry: adapters, features, filters, regime models, estimators and strategies register by name.

A name that contains ``:`` is imported as ``"package.module:Attribute"``, so third-party plug-ins need
no registration (the nautilus ImportableConfig idea).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from orderflow.core.errors import ConfigError

T = TypeVar("T")


class Registry:
    """A named collection of plug-ins of one kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ConfigError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: Any) -> None:
        self.register(name)(obj)

    def get(self, name: str) -> Any:
        if ":" in name:
            mod, _, attr = name.partition(":")
            try:
                return getattr(importlib.import_module(mod), attr)
            except (ImportError, AttributeError) as e:
                raise ConfigError(f"{self.kind} '{name}': cannot import ({e})") from e
        if name not in self._items:
            raise ConfigError(
                f"unknown {self.kind} '{name}' (known: {', '.join(sorted(self._items)) or 'none'})"
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items


__all__ = ["Registry"]
