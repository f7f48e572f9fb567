"""Which services the selected tests will need, read from their source before pytest
imports and collects them. A command run before starts what it used last time
(early_start.py); this covers its first run (every CI run, a new
selection): services then start while pytest collects, instead of after.

A forecast, not a decision: collection still says what is needed and starts what was
missed, and a service forecast but not needed is stopped at the end like any other.
So it reads only what it can be sure of, and forecasts nothing when unsure:

- files: the arguments' test modules under tests/integration, their conftest.py
  files, the modules those import fixtures from, and the harness's fixture modules;
- fixtures: definitions (@pytest.fixture, @pytest_asyncio.fixture), their arguments,
  `request.getfixturevalue("name")`, autouse and `usefixtures`; the closest
  definition wins, as in pytest;
- a test needs X when `X_service` is among its fixtures, or `database_service` (the
  literal values it is parametrized with, else the first SQL database): the rule of
  markers.services_used, which collection applies;
- `-m` is evaluated per test on the markers its source writes plus the ones the
  harness adds; `-k`, `--lf`, `--sw` and pytest-split's `--splits` select by what
  only collection knows: no forecast.

Hand-written on the standard library's `ast`: no library reads pytest fixtures
without importing the modules, and importing them is the cost this avoids.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from .before_start import SUITE_DIR
from .catalog import SPECS, SQL_SERVICES, fixture_module_paths

# The fixture that says which SQL database the generic db_* fixtures use
# (markers.services_used reads it as collection goes).
DATABASE_CHOICE = "database_service"
# Options whose selection only collection can know: no forecast with them.
_SELECTING_OPTIONS = ("keyword", "lf", "stepwise", "splits")
_FIXTURE_DECORATORS = frozenset({"fixture", "yield_fixture"})
# A function without readable source (built in, from a .pyc, made at run time). Named:
# `ruff format` for Python 3.14 would drop the parentheses of a literal one (PEP 758).
_NO_SOURCE = (OSError, TypeError, SyntaxError)


@dataclass(frozen=True)
class Fixture:
    requests: frozenset[str]
    autouse: bool = False
    # The values of params=[...] or of a single `return "..."` when they are literal
    # strings (database_service's choices); None: no params; ("?",): not literal.
    values: tuple[str, ...] | None = None
    in_harness: bool = False


@dataclass(frozen=True)
class SourceTest:
    path: tuple[str, ...]  # classes, then the function's name
    requests: frozenset[str]
    marks: frozenset[str]
    # database_service's values when the test parametrizes it itself.
    database_choices: tuple[str, ...] | None


@dataclass
class Module:
    path: Path
    fixtures: dict[str, Fixture] = field(default_factory=dict)
    tests: list[SourceTest] = field(default_factory=list)
    plugins: list[Path] = field(default_factory=list)  # conftest's pytest_plugins
    # Names imported `from module import name` (the samples' conftest.py imports its
    # fixtures so): read when a test asks for one, if the module is the suite's.
    imported: dict[str, Import] = field(default_factory=dict)
    star_imports: list[Import] = field(default_factory=list)


@dataclass(frozen=True)
class Import:
    module: str
    level: int
    name: str


def forecast(config: pytest.Config) -> list[str]:
    """The services collection will most likely ask for; [] when unsure."""
    wanted = {name for name, spec in SPECS.items() if not spec.configured_url()}
    if not wanted or any(getattr(config.option, o, None) for o in _SELECTING_OPTIONS):
        return []
    try:
        return sorted(_needed(config) & wanted)
    except Exception:  # noqa: BLE001 - a forecast never fails a run: collection
        return []  # reports what is wrong with the files or with -m


def _needed(config: pytest.Config) -> set[str]:
    reader = SourceReader(config)
    select = marker_filter(config)
    needed: set[str] = set()
    for test_file, test, test_id in reader.selected_tests():
        for services in reader.variants(test_file, test, test_id):
            if select(test.marks | {"integration", *services}):
                needed.update(services)
    return needed


def marker_filter(config: pytest.Config) -> Callable[[frozenset[str]], bool]:
    """`-m`, as pytest evaluates it, on a set of marker names."""
    expression = config.option.markexpr
    if not expression:
        return lambda _marks: True
    # pytest's own parser: the same grammar as `-m` itself (a private module: if it
    # moves, the ImportError means no forecast rather than a wrong one).
    from _pytest.mark.expression import Expression

    compiled = Expression.compile(expression)

    def select(marks: frozenset[str]) -> bool:
        def matcher(name: str, /, **kwargs: object) -> bool:
            return not kwargs and name in marks

        return compiled.evaluate(matcher)

    return select


class SourceReader:
    """The selected test modules and the fixtures in scope of each, parsed once."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.modules: dict[Path, Module] = {}
        self.harness = [
            self.module(path, in_harness=True) for path in fixture_module_paths()
        ]
        self.python_files = config.getini("python_files")
        self.ignored = [Path(p).resolve() for p in config.option.ignore or ()]
        self.ignored_globs = list(config.option.ignore_glob or ())
        # pytest deselects node ids (relative to the rootdir) by prefix.
        self.deselected = [
            entry.partition("[")[0] for entry in config.option.deselect or ()
        ]

    # ------------------------------------------------------------ selection
    def selected_tests(self) -> Iterator[tuple[Path, SourceTest, str]]:
        """Each selected test, with the parameter id its node id names, if any
        (`test_x[mysql]`)."""
        for argument in self.config.args:
            path_text, *names = argument.split("::")
            path = (self.config.invocation_params.dir / path_text).resolve()
            test_id = names[-1].partition("[")[2] if names else ""
            for test_file in self.test_files(path):
                for test in self.module(test_file).tests:
                    if self.chosen(test_file, test, names):
                        yield test_file, test, test_id

    def test_files(self, path: Path) -> list[Path]:
        if not path.is_relative_to(SUITE_DIR) or self.is_ignored(path):
            return []  # outside the suite: not ours to forecast
        if path.is_file():
            return [path]
        found = []
        for candidate in sorted(path.rglob("*.py")):
            relative = candidate.relative_to(path).parts
            if any(part.startswith((".", "__")) for part in relative[:-1]):
                continue
            if self.is_test_module(candidate) and not self.is_ignored(candidate):
                found.append(candidate)
        return found

    def is_test_module(self, path: Path) -> bool:
        return any(fnmatch.fnmatch(path.name, p) for p in self.python_files)

    def is_ignored(self, path: Path) -> bool:
        return any(path.is_relative_to(ignored) for ignored in self.ignored) or any(
            fnmatch.fnmatch(str(path), glob) for glob in self.ignored_globs
        )

    def chosen(self, test_file: Path, test: SourceTest, names: list[str]) -> bool:
        relative = test_file.relative_to(self.config.rootpath).as_posix()
        if "::".join((relative, *test.path)).startswith(tuple(self.deselected)):
            return False
        bare = [name.split("[")[0] for name in names]
        return list(test.path[: len(bare)]) == bare

    # ------------------------------------------------------------ fixtures
    def variants(
        self, test_file: Path, test: SourceTest, test_id: str
    ) -> list[set[str]]:
        """The services of each way the test runs (one per database choice; only
        the one a node id such as `test_x[mysql]` names)."""
        scopes = self.scopes(test_file)
        closure = self.closure(scopes, test.requests | self.autouse(scopes))
        services = {name for name in SPECS if f"{name}_service" in closure}
        if DATABASE_CHOICE not in closure or not SQL_SERVICES:
            return [services]
        choices = test.database_choices
        if choices is None:  # () is a computed parametrization: collection will tell
            choices = self.database_choices(scopes)
        named = set(re.split(r"[\[\]-]", test_id)) & set(choices)
        return [services | {c} for c in choices if c in named or not named] or [
            services
        ]

    def database_choices(self, scopes: list[Module]) -> tuple[str, ...]:
        found = self.resolve(scopes, DATABASE_CHOICE)
        if found is None or found.in_harness:
            return SQL_SERVICES[:1]
        if found.values is None or "?" in found.values:
            return ()  # computed by the user's code: collection will tell
        return found.values

    @functools.cache  # noqa: B019 - one reader per forecast: it dies with it
    def scopes(self, test_file: Path) -> list[Module]:
        """Where pytest looks for a fixture, closest first: the module, the
        conftest.py files above it within the suite, plugins, the harness."""
        module = self.module(test_file)
        conftests = [
            self.module(folder / "conftest.py")
            for folder in (test_file.parent, *test_file.parent.parents)
            if folder.is_relative_to(SUITE_DIR) and (folder / "conftest.py").is_file()
        ]
        plugins = [self.module(path) for c in conftests for path in c.plugins]
        return [module, *conftests, *plugins, *self.harness]

    def resolve(self, scopes: list[Module], name: str) -> Fixture | None:
        return next(self.definitions(scopes, name), None)

    def lookup(self, scope: Module, name: str) -> Fixture | None:
        if name in scope.fixtures:
            return scope.fixtures[name]
        imports = [scope.imported[name]] if name in scope.imported else []
        for found in imports + [replace(i, name=name) for i in scope.star_imports]:
            source = _module_file(scope.path, found.module, found.level)
            if source is None:
                continue
            fixture = self.module(source, follow_imports=False).fixtures.get(found.name)
            if fixture is not None:
                scope.fixtures[name] = fixture
                return fixture
        return None

    def closure(self, scopes: list[Module], requests: frozenset[str]) -> set[str]:
        seen: set[str] = set()
        pending = list(requests)
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            for fixture in self.definitions(scopes, name):
                pending.extend(fixture.requests - {name})
        return seen

    def definitions(self, scopes: list[Module], name: str) -> Iterator[Fixture]:
        """The closest definition, and the ones it overrides while it asks for its
        own name (a fixture that extends the one above it)."""
        for scope in scopes:
            fixture = self.lookup(scope, name)
            if fixture is None:
                continue
            yield fixture
            if name not in fixture.requests:
                return

    def autouse(self, scopes: list[Module]) -> frozenset[str]:
        return frozenset(
            name
            for scope in scopes
            for name, fixture in scope.fixtures.items()
            if fixture.autouse
        )

    # ------------------------------------------------------------ parsing
    def module(
        self, path: Path, *, in_harness: bool = False, follow_imports: bool = True
    ) -> Module:
        path = path.resolve()
        if path not in self.modules:
            tree = ast.parse(path.read_bytes(), filename=str(path))
            module = self.read_module(path, tree, in_harness=in_harness)
            # The harness defines its fixtures where it registers them; a module
            # imported from is read for its own fixtures only.
            if follow_imports and not in_harness:
                self.read_imports(module, tree)
            self.modules[path] = module
        return self.modules[path]

    def read_module(self, path: Path, tree: ast.Module, *, in_harness: bool) -> Module:
        module = Module(path)
        module_marks = _pytestmark(tree.body)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.read_function(
                    module, node, (), module_marks, in_harness=in_harness
                )
            elif isinstance(node, ast.ClassDef):
                self.read_class(module, node, (), module_marks)
        if not _collects(tree.body):
            module.tests.clear()
        return module

    def read_function(
        self,
        module: Module,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        classes: tuple[str, ...],
        outer_marks: list[ast.expr],
        *,
        in_harness: bool = False,
    ) -> None:
        fixture = _fixture_decorator(node)
        if fixture is not None:
            name, found = _read_fixture(node, fixture, in_harness=in_harness)
            module.fixtures[name] = found
        elif self.is_test_function(node.name):
            module.tests.append(_read_test(node, classes, outer_marks))

    def read_class(
        self,
        module: Module,
        node: ast.ClassDef,
        classes: tuple[str, ...],
        outer_marks: list[ast.expr],
    ) -> None:
        if not any(
            fnmatch.fnmatch(node.name, p + "*") for p in self._ini("python_classes")
        ):
            return
        marks = [*outer_marks, *node.decorator_list, *_pytestmark(node.body)]
        for child in node.body:
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.read_function(module, child, (*classes, node.name), marks)
            elif isinstance(child, ast.ClassDef):
                self.read_class(module, child, (*classes, node.name), marks)

    def is_test_function(self, name: str) -> bool:
        return any(
            fnmatch.fnmatch(name, p + "*") for p in self._ini("python_functions")
        )

    def _ini(self, name: str) -> list[str]:
        return [p.rstrip("*") for p in self.config.getini(name)]

    def read_imports(self, module: Module, tree: ast.Module) -> None:
        """Names a module imports from a module of the suite, and a conftest's
        pytest_plugins: pytest finds fixtures in both."""
        for node in _module_level(tree.body):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    found = Import(node.module, node.level, alias.name)
                    if alias.name == "*":
                        module.star_imports.append(found)
                    else:
                        module.imported[alias.asname or alias.name] = found
            elif (assignment := _assignment(node, "pytest_plugins")) is not None:
                for name in _strings(assignment.value) or ():
                    plugin = _module_file(module.path, name, 0)
                    if plugin is not None:
                        module.plugins.append(plugin)


def _fixture_decorator(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if _last_name(target) in _FIXTURE_DECORATORS:
            return decorator
    return None


def _read_fixture(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    decorator: ast.expr,
    *,
    in_harness: bool,
) -> tuple[str, Fixture]:
    keywords = (
        {k.arg: k.value for k in decorator.keywords if k.arg}
        if isinstance(decorator, ast.Call)
        else {}
    )
    name = _constant(keywords.get("name")) or node.name
    requests = set(_arguments(node))
    requests.update(_requested_by_name(node))
    autouse = isinstance(keywords.get("autouse"), ast.Constant) and bool(
        _constant_value(keywords["autouse"])
    )
    values: tuple[str, ...] | None = None
    if "params" in keywords:
        values = _strings(keywords["params"]) or ("?",)
    elif (returned := _literal_return(node)) is not None:
        values = (returned,)
    return name, Fixture(frozenset(requests), autouse, values, in_harness)


def _read_test(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    classes: tuple[str, ...],
    outer_marks: list[ast.expr],
) -> SourceTest:
    requests = set(_arguments(node))
    marks: set[str] = set()
    database_choices: tuple[str, ...] | None = None
    for mark in [*outer_marks, *node.decorator_list]:
        name = _mark_name(mark)
        if name is None:
            continue
        marks.add(name)
        arguments = mark.args if isinstance(mark, ast.Call) else []
        if name == "usefixtures":
            requests.update(filter(None, map(_constant, arguments)))
        elif name == "parametrize" and arguments:
            argnames = _argnames(arguments[0])
            requests.difference_update(argnames)  # values, not fixtures
            if argnames == [DATABASE_CHOICE] and len(arguments) > 1:
                requests.add(DATABASE_CHOICE)
                database_choices = _strings(arguments[1]) or ()
    return SourceTest(
        (*classes, node.name), frozenset(requests), frozenset(marks), database_choices
    )


def _arguments(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[str]:
    arguments = node.args
    for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
        if argument.arg not in {"self", "cls", "request"}:
            yield argument.arg


def _requested_by_name(node: ast.AST) -> Iterator[str]:
    """`request.getfixturevalue("name")` with a literal name."""
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and _last_name(call.func) == "getfixturevalue"
            and call.args
            and (name := _constant(call.args[0]))
        ):
            yield name


@functools.cache
def literal_return_of(function: Callable[..., object]) -> str | None:
    """ "x" for a function whose body is `return "x"` (markers.services_used asks
    it of a user's database_service); None when unknown."""
    try:
        node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    except _NO_SOURCE:
        return None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return _literal_return(node)
    return None


def _literal_return(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """ "x" for a fixture whose body is `return "x"` (after a docstring)."""
    body = [
        statement
        for statement in node.body
        if not (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
        )
    ]
    if len(body) == 1 and isinstance(body[0], ast.Return):
        return _constant(body[0].value)
    return None


def _collects(body: list[ast.stmt]) -> bool:
    """False when the module sets `__test__` to anything but True: pytest then
    collects nothing there, or something the source alone cannot tell."""
    for node in body:
        if (assignment := _assignment(node, "__test__")) is not None:
            return _constant_value(assignment.value) is True
    return True


def _pytestmark(body: list[ast.stmt]) -> list[ast.expr]:
    marks: list[ast.expr] = []
    for node in body:
        if (assignment := _assignment(node, "pytestmark")) is not None:
            value = assignment.value
            marks += value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
    return marks


def _mark_name(node: ast.expr) -> str | None:
    """ "postgres" for pytest.mark.postgres and pytest.mark.postgres(...)."""
    target = node.func if isinstance(node, ast.Call) else node
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Attribute)
        and target.value.attr == "mark"
    ):
        return target.attr
    return None


def _argnames(node: ast.expr) -> list[str]:
    if isinstance(node, (ast.List, ast.Tuple)):
        return [name for element in node.elts if (name := _constant(element))]
    text = _constant(node) or ""
    return [name.strip() for name in text.split(",") if name.strip()]


def _strings(node: ast.expr | None) -> tuple[str, ...] | None:
    """The strings of a literal list or tuple of strings (or one string); else None."""
    if node is None:
        return None
    if (single := _constant(node)) is not None:
        return (single,)
    if not isinstance(node, (ast.List, ast.Tuple)):
        return None
    values = [_constant(element) for element in node.elts]
    return tuple(v for v in values if v is not None) if None not in values else None


def _constant(node: ast.expr | None) -> str | None:
    value = _constant_value(node)
    return value if isinstance(value, str) else None


def _constant_value(node: ast.expr | None) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _assignment(node: ast.AST, name: str) -> ast.Assign | None:
    if isinstance(node, ast.Assign) and any(
        isinstance(target, ast.Name) and target.id == name for target in node.targets
    ):
        return node
    return None


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """A module's statements, those under `if` and `try` too (not in functions)."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _module_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            yield from _module_level(node.body + node.orelse + node.finalbody)


def _module_file(importer: Path, dotted: str, level: int) -> Path | None:
    """The file of a module of the suite, or None (a library, or not found)."""
    if level > len(importer.parents):
        return None
    bases = [importer.parents[level - 1]] if level else [SUITE_DIR, *SUITE_DIR.parents]
    for base in bases:
        candidate = base.joinpath(*dotted.split("."))
        for file in (candidate.with_suffix(".py"), candidate / "__init__.py"):
            if file.is_file() and file.resolve().is_relative_to(SUITE_DIR):
                return file
    return None
