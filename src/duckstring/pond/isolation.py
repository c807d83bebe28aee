"""Import a Pond's module file in isolation.

Every import gets a fresh, unique module name, so two Ponds that both keep their Ripples in
``src/pond.py`` never share a module object. While the module runs, the folder that holds it is
importable (for sibling helper modules); afterwards that folder leaves ``sys.path`` and every
module imported from it leaves ``sys.modules``, so the next Pond's ``helpers.py`` is its own.
Functions keep working after the import because they hold their module globals directly.

No bytecode is written beside the module or its helpers: a deployed version's folder stays as
it was uploaded, whoever imports from it and whatever ``PYTHONDONTWRITEBYTECODE`` says.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import sys
import threading
import traceback
from pathlib import Path
from types import ModuleType, TracebackType

# sys.path and sys.modules are process-global: one isolated import at a time.
_IMPORT_LOCK = threading.RLock()
_SERIAL = itertools.count(1)


class DefinitionError(ValueError):
    """A misuse of the Pond API found while importing a module (a bad ``@ripple`` or ``@puddle``).

    It is an expected, user-facing error: its message names the file and the culprit.
    """


class ModuleImportError(Exception):
    """A Pond module that raised while being imported (syntax error, missing import, ...)."""

    def __init__(self, path: Path, error: BaseException) -> None:
        self.path = path
        self.error = error
        self.traceback_text = user_traceback(error)
        super().__init__(f"{path}: importing it failed: {type(error).__name__}: {error}")


def import_isolated(path: Path | str) -> ModuleType:
    """Execute the module file at ``path`` under a fresh unique name and return the module.

    Raises ``FileNotFoundError`` if there is no such file, :class:`DefinitionError` unchanged
    when the module misuses the Pond API, and :class:`ModuleImportError` for anything else the
    module raises.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no module file at {path}")
    folder = path.parent
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"_duckstring_module_{next(_SERIAL)}_{stem}"
    with _IMPORT_LOCK:
        last_before = next(reversed(sys.modules), None)
        # sys.path is replaced, never changed in place: an import running on another thread
        # walks the list it started with, and would skip an entry if one were removed under it.
        sys.path = [str(folder), *sys.path]
        _forget_listings(folder)
        writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise FileNotFoundError(f"cannot load {path} as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except DefinitionError:
                del sys.modules[module_name]
                raise
            except Exception as error:
                del sys.modules[module_name]
                raise ModuleImportError(path, error) from error
        finally:
            sys.dont_write_bytecode = writes_bytecode
            kept = list(sys.path)
            if str(folder) in kept:
                kept.remove(str(folder))
            sys.path = kept
            _forget_modules_from(folder, _added_after(last_before) - {module_name})
    return module


def _added_after(last: str | None) -> set[str]:
    """The names ``sys.modules`` gained after ``last`` (new entries come last).

    Walks back from the end rather than comparing two copies of the whole table: in a freshly
    forked Duck, copying it touches every module name, and each page written is first copied
    (~0.85 ms of the Duck's start). If ``last`` is gone, or another thread's import changes the
    table meanwhile, every name is returned: callers keep only the modules of one folder.
    """
    added: set[str] = set()
    try:
        for name in reversed(sys.modules):
            if name == last:
                return added
            added.add(name)
    except RuntimeError:  # the table changed size while it was walked
        return set(sys.modules)
    return added


def _forget_listings(folder: Path) -> None:
    """Drop the import system's cached listings of ``folder`` and the folders below it, so
    files written there since an earlier import are found. (``importlib.invalidate_caches``
    would drop every folder's, under imports running on other threads.)"""
    prefix = str(folder)
    for key in list(sys.path_importer_cache):
        if key == prefix or key.startswith(prefix + os.sep):
            sys.path_importer_cache.pop(key, None)


def _forget_modules_from(folder: Path, names: set[str]) -> None:
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            continue
        locations = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
        if any(_inside(location, folder) for location in locations if location):
            del sys.modules[name]


def _inside(location: str, folder: Path) -> bool:
    try:
        return Path(location).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` from the first frame of the author's own code.

    Leading frames of Duckstring itself and of the import machinery are dropped, so a Pond
    author sees their Ripple, puddle or module first. If every frame is ours, all are kept.
    """
    tb: TracebackType | None = error.__traceback__
    while tb is not None and _is_machinery(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    if tb is None:
        tb = error.__traceback__
    return "".join(traceback.format_exception(type(error), error, tb))


_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def _is_machinery(filename: str) -> bool:
    return filename.startswith(("<frozen importlib", _PACKAGE_DIR))
