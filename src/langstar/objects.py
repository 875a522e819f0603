"""What a `module:attr` or `path/to/file.py:attr` spec names: a graph, an Auth, a function."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import uuid
from pathlib import Path
from typing import Any

# Modules loaded from a file get a name of their own, stable for the file.
_FILE_MODULES = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


class LoadError(RuntimeError):
    """A spec names nothing that can be imported."""


def load_object(spec: str, base: Path) -> Any:
    """Import `module:attr`, or `path/to/file.py:attr` with the path taken from `base`."""
    target, _, attr = spec.rpartition(":")
    try:
        if target.endswith(".py") or "/" in target:
            file = (base / target).resolve()
            name = "langstar_graph_" + uuid.uuid5(_FILE_MODULES, str(file)).hex
            module_spec = importlib.util.spec_from_file_location(name, file)
            if module_spec is None or module_spec.loader is None:
                raise LoadError(f"{spec}: cannot load {file}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(f"{spec}: import failed: {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise LoadError(f"{spec}: module has no attribute {attr!r}") from None
