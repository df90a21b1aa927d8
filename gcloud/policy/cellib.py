"""The CEL library's Rust core, loaded without the package's interactive shell.

`import cel` runs `cel/__init__.py`, which imports `cel.cli`, a REPL built on prompt_toolkit: measured at 0.6 s of
every `govcloud validate` and `policy check` start, for code govcloud never calls. Only the compiled extension is
needed (`compile`, `Context`, `Program`), so it is loaded from its file and registered as `cel.cel`: a later
ordinary `import cel` reuses it (a PyO3 module may be initialised only once per process).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

EXTENSION = "cel.cel"


def _extension() -> ModuleType:
    loaded = sys.modules.get(EXTENSION)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("cel")  # locates the package without running its __init__
    if package is None or not package.submodule_search_locations:
        raise ImportError("the CEL library (common-expression-language) is not installed")
    spec = importlib.machinery.PathFinder.find_spec("cel", list(package.submodule_search_locations))
    if spec is None or spec.loader is None:
        raise ImportError("the CEL library's compiled extension is missing")
    spec.name = EXTENSION
    module = importlib.util.module_from_spec(spec)
    sys.modules[EXTENSION] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from cel import Context, Program, compile
else:
    _cel = _extension()
    Context = _cel.Context
    Program = _cel.Program
    compile = _cel.compile

__all__ = ["Context", "Program", "compile"]
