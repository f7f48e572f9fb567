"""The edit -> run one test -> read the result loop, against the hand-written recipe.

    uv run python benchmarks/inner_loop.py [--quick] [--rounds 9] [--template PATH]

One selected test (`test_added_user_can_be_read_back` of the sample repository
tests) against services that are already running, under the generated suite and
under the SQLAlchemy docs' recipe as a conftest (benchmarks/recipe.py) running the
very same test module, side by side: alternating runs, medians, and the median of
the per-round ratios. Scenarios:

  external        IT_POSTGRES_URL set (../shared/native-services/up); the recipe
                  uses a database of its own on the same server
  external kept   the same with --it-keep, second and later runs
  containers kept IT_PROVIDER=testcontainers --it-keep, second and later runs; the
                  recipe uses the container the harness kept
  4 services      a suite generated for postgres, mysql, redis and rabbitmq, every
                  URL set, the same PostgreSQL test: unused services cost nothing

The bar (issue 16): harness / recipe <= 1.15 in every scenario. Every command runs
as users run it, pytest's cache on (the untimed warm-up round runs it first).

Then, for the same runs, where the time goes: the phases of one run (from a small
timeline plugin), harness next to recipe. And two checks that need no recipe:

  HTTP alone      the HTTP sample tests of the 4-service suite with every database
                  and broker URL pointing at a port that accepts and never answers:
                  a run that probed a service it does not need would wait for it
  collect-only    `pytest --collect-only` of the 4-service suite against bare
                  collection (--noconftest, the same files); URLs at that silent port
                  and Docker available: discovery must start and probe nothing
                  (issue 13: at most 1.5x bare collection)

With --candidate, the two suites' runs alternate in the same rounds, the
discovery checks too: trees timed in blocks would compare times of day.

Everything it creates is removed at the end: databases named test_bench*, kept
containers of project `bench`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pstats
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import _bench as bench
from _bench import Result, Setup
from recipe import RECIPE_REQUIREMENTS, make_recipe_project

TARGET = "test_added_user_can_be_read_back"
SAMPLE_TEST = f"tests/integration/samples/test_user_repository.py::{TARGET}"
RECIPE_TEST = f"tests/recipe/test_user_repository.py::{TARGET}"
HTTP_TESTS = "tests/integration/samples/test_http_client.py"
INNER_LOOP_BAR = 1.15
COLLECT_ONLY_BAR = 1.5
ALL_SERVICES = ("postgres", "mysql", "redis", "rabbitmq")


def pytest_argv(python: Path, *args: str) -> list[str]:
    # pytest's cache stays on, as users have it: the loop repeats one command, and
    # the suite may start what that command used last time while pytest starts.
    return [str(python), "-m", "pytest", *args, "-q", "-p", "bench_timeline"]


def kept_container_url(project: Path) -> str:
    """URL of the PostgreSQL container a --it-keep run of `project` left."""
    suite = str((project / "tests" / "integration").resolve())
    checkout = hashlib.sha256(suite.encode()).hexdigest()[:8]  # harness/run_state.py
    ids = bench.docker_containers(f"{bench.HARNESS_LABEL}.checkout={checkout}")
    for container in ids:
        labels = subprocess.run(
            [
                "docker",
                "inspect",
                "--format",
                '{{index .Config.Labels "' + bench.HARNESS_LABEL + '.service"}} '
                '{{index .Config.Labels "' + bench.HARNESS_LABEL + '.keep"}}',
                container,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if labels == ["postgres", "true"]:
            port = (
                subprocess.run(
                    ["docker", "port", container, "5432/tcp"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.split()[0]
                .rsplit(":", 1)[1]
            )
            return f"postgresql://test:test@127.0.0.1:{port}/test"
    raise RuntimeError("no kept PostgreSQL container of project bench")


RECIPE_DATABASE = f"test_bench_recipe_{os.getpid()}"  # the recipe's, this run's


def ensure_recipe_database(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [RECIPE_DATABASE]
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{RECIPE_DATABASE}"')
    return bench.with_database(url, RECIPE_DATABASE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="3 rounds, fewer scenarios")
    parser.add_argument(
        "--template",
        type=Path,
        default=bench.REPO_ROOT,
        help="template repository to render (a scratch copy)",
    )
    parser.add_argument(
        "--candidate",
        type=Path,
        help="a second template (a scratch copy with a proposed change), run alongside",
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=["external", "external-kept", "containers-kept", "four-services"],
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of one harness run (external)"
    )
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    if args.quick:
        args.scenarios = [s for s in args.scenarios if s != "four-services"]
    urls = bench.native_urls()
    images = bench.container_images()
    with tempfile.TemporaryDirectory(prefix="inner-loop-") as scratch_dir:
        scratch = Path(scratch_dir)
        try:
            run(args, rounds, scratch, urls, images)
        finally:
            clean_up(urls)


@dataclass
class Variant:
    """The generated suite of one template (the repository's, or a candidate change)."""

    name: str
    project: Path
    python: Path
    four: Path | None = None
    four_python: Path | None = None


def build_variant(name: str, template: Path, scratch: Path, four_services: bool) -> Variant:
    project = bench.render_project(scratch / f"{name}-project", template=template)
    requirements = project / "tests/integration/requirements.txt"
    python = bench.make_venv(scratch / f"{name}-venv", [], requirement_files=[requirements])
    variant = Variant(name, project, python)
    if four_services:
        variant.four = bench.render_project(
            scratch / f"{name}-four", template=template, services=ALL_SERVICES
        )
        variant.four_python = bench.make_venv(
            scratch / f"{name}-venv-four",
            [],
            requirement_files=[variant.four / "tests/integration/requirements.txt"],
        )
    return variant


def run(
    args: argparse.Namespace,
    rounds: int,
    scratch: Path,
    urls: dict[str, str],
    images: dict[str, str],
) -> None:
    plugin_dir = bench.write_timeline_plugin(scratch / "plugin")
    bench.log("rendering and installing ...")
    four_services = "four-services" in args.scenarios
    variants = [build_variant("harness", args.template, scratch, four_services)]
    if args.candidate is not None:
        variants.append(build_variant("candidate", args.candidate, scratch, four_services))
    samples = variants[0].project / "tests/integration/samples"
    recipe_dir = make_recipe_project(scratch / "recipe", samples)
    recipe_python = bench.make_venv(scratch / "venv-recipe", RECIPE_REQUIREMENTS)
    pg_url = urls["IT_POSTGRES_URL"]
    recipe_url = ensure_recipe_database(pg_url)

    def harness(
        variant: Variant, extra: list[str], env: dict[str, str], four: bool = False
    ) -> Setup:
        project = variant.four if four else variant.project
        python = variant.four_python if four else variant.python
        assert project is not None
        assert python is not None
        # With two SQL databases the samples run on each: the PostgreSQL one here.
        target = f"{SAMPLE_TEST}[postgres]" if four else SAMPLE_TEST
        return Setup(
            variant.name,
            project,
            pytest_argv(python, target, *extra),
            bench.bench_environment(**env),
            check=bench.must_pass(1),
        )

    def recipe(url: str) -> Setup:
        return Setup(
            "recipe",
            recipe_dir,
            pytest_argv(recipe_python, RECIPE_TEST),
            bench.bench_environment(RECIPE_DATABASE_URL=url),
            check=bench.must_pass(1),
        )

    scenarios: list[tuple[str, list[Setup]]] = []
    if "external" in args.scenarios:
        setups = [harness(v, [], {"IT_POSTGRES_URL": pg_url}) for v in variants]
        scenarios.append(("external", [*setups, recipe(recipe_url)]))
    if "external-kept" in args.scenarios:
        setups = [harness(v, ["--it-keep"], {"IT_POSTGRES_URL": pg_url}) for v in variants]
        scenarios.append(("external, --it-keep (2nd run on)", [*setups, recipe(recipe_url)]))
    if "containers-kept" in args.scenarios and bench.docker_available():
        env = {
            "IT_PROVIDER": "testcontainers",
            "IT_POSTGRES_IMAGE": images["IT_POSTGRES_IMAGE"],
            "TESTCONTAINERS_RYUK_DISABLED": "true",
        }
        setups = [harness(v, ["--it-keep"], env) for v in variants]
        for setup in setups:  # the first run starts the container and keeps it
            bench.run_once(setup, plugin_dir)
        container_url = ensure_recipe_database(kept_container_url(variants[0].project))
        scenarios.append(("containers, --it-keep (2nd run on)", [*setups, recipe(container_url)]))
    if four_services:
        setups = [harness(v, [], urls, four=True) for v in variants]
        scenarios.append(("4 services generated, all URLs set", [*setups, recipe(recipe_url)]))

    names = [v.name for v in variants]
    rows, phase_tables = [], []
    for title, setups in scenarios:
        bench.log(f"{title}: {rounds} rounds")
        try:
            results = bench.alternate(setups, rounds, timeline_dir=plugin_dir, log=bench.log)
        except RuntimeError as exc:  # say so, and go on with the other scenarios
            bench.log(f"{title}: not measured: {exc}")
            continue
        for name in names:
            rows.append(scenario_row(title, name, results[name], results["recipe"]))
        phase_tables.append((title, results))

    print(f"\n## Inner loop: one test ({TARGET}) vs the recipe, {rounds} rounds\n")
    header = ["scenario", "suite", "suite s", "recipe s", "suite / recipe", f"bar {INNER_LOOP_BAR}"]
    extra = ["suite CPU s", "recipe CPU s", "CPU ratio", "fastest / fastest"]
    print(bench.markdown_table([*header, *extra], rows))
    for title, results in phase_tables:
        print(f"\n### Where the time goes: {title} (medians, seconds)\n")
        print(phase_table(results, [*names, "recipe"]))

    if four_services:
        print("\n## Unused services and discovery (4-service suite)\n")
        print(discovery_checks(variants, plugin_dir, rounds))
    if args.profile:
        for variant in variants:
            profile_once(variant, pg_url)
    templates = f"harness: {args.template}" + (
        f", candidate: {args.candidate}" if args.candidate else ""
    )
    print(f"\nmachine: {bench.machine_line()}; {templates}")


def scenario_row(
    title: str, name: str, harness: list[Result], recipe: list[Result]
) -> list[object]:
    ratio = bench.paired_ratio([r.wall for r in harness], [r.wall for r in recipe])
    return [
        title,
        name,
        bench.median([r.wall for r in harness]),
        bench.median([r.wall for r in recipe]),
        ratio,
        "ok" if ratio <= INNER_LOOP_BAR else "over",
        bench.median([r.cpu for r in harness]),
        bench.median([r.cpu for r in recipe]),
        bench.paired_ratio([r.cpu for r in harness], [r.cpu for r in recipe]),
        min(r.wall for r in harness) / min(r.wall for r in recipe),
    ]


def phase_table(results: dict[str, list[Result]], names: list[str]) -> str:
    rows: list[list[object]] = []
    for label, start, end in bench.PHASES:
        row: list[object] = [label]
        for name in names:
            row.append(bench.phase_median(results[name], start, end))
        rows.append(row)
    total: list[object] = ["total (wall)"]
    total += [bench.median([r.wall for r in results[n]]) for n in names]
    rows.append(total)
    return bench.markdown_table(["phase", *names], rows)


def discovery_checks(variants: list[Variant], plugin_dir: Path, rounds: int) -> str:
    """The HTTP tests alone and collection, every other URL silent. The runs of all
    variants alternate in one loop: trees compared in blocks compare times of day."""
    suites = [v for v in variants if v.four is not None and v.four_python is not None]
    with bench.tarpit() as port:
        silent = {
            "IT_POSTGRES_URL": f"postgresql://test:test@127.0.0.1:{port}/test",
            "IT_MYSQL_URL": f"mysql://root:test@127.0.0.1:{port}/test",
            "IT_REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "IT_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{port}/%2F",
            "IT_STARTUP_TIMEOUT": "5",
        }
        env = bench.bench_environment(**silent)
        label = f"{bench.HARNESS_LABEL}.project={bench.PROJECT}"
        containers_before = set(bench.docker_containers(label))
        setups = [setup for v in suites for setup in discovery_setups(v, env)]
        results = bench.alternate(setups, rounds, timeline_dir=plugin_dir, log=bench.log)
        new_containers = len(set(bench.docker_containers(label)) - containers_before)
    rows = []
    for variant in suites:
        rows += discovery_rows(variant.name, results, new_containers)
    header = ["suite", "run", "median s", "/ bare collection", "verdict"]
    return bench.markdown_table(header, rows)


def discovery_setups(variant: Variant, env: dict[str, str]) -> list[Setup]:
    project, python = variant.four, variant.four_python
    assert project is not None
    assert python is not None

    def no_service(result: Result) -> None:
        summary = bench.parse_harness_summary(result.output)
        if summary.ready or result.returncode not in (0, 5):
            raise RuntimeError(f"a service was touched:\n{result.output[-3000:]}")

    collect = ["tests/integration", "--collect-only"]
    bare = [*collect, "--noconftest", "-o", "addopts="]
    return [
        Setup(f"{variant.name}: http", project, pytest_argv(python, HTTP_TESTS), env, no_service),
        Setup(f"{variant.name}: collect", project, pytest_argv(python, *collect), env, no_service),
        Setup(f"{variant.name}: bare", project, pytest_argv(python, *bare), env),
    ]


def discovery_rows(
    name: str, results: dict[str, list[Result]], new_containers: int
) -> list[list[object]]:
    http_wall = bench.median([r.wall for r in results[f"{name}: http"]])
    collect = [r.wall for r in results[f"{name}: collect"]]
    bare = [r.wall for r in results[f"{name}: bare"]]
    ratio = bench.paired_ratio(collect, bare)
    verdict = "ok" if ratio <= COLLECT_ONLY_BAR else "over"
    return [
        [
            name,
            "HTTP tests alone, every other URL silent",
            http_wall,
            "-",
            "ok: nothing probed" if http_wall < 5 else "waited for a service",
        ],
        [
            name,
            "pytest --collect-only",
            bench.median(collect),
            ratio,
            f"{verdict} (bar {COLLECT_ONLY_BAR}x); containers started: {new_containers}",
        ],
        [name, "bare collection (--noconftest)", bench.median(bare), 1.0, ""],
    ]


def profile_once(variant: Variant, pg_url: str) -> None:
    """cProfile of one harness run: the functions of the suite by cumulative time."""
    project, python = variant.project, variant.python
    output = project / "inner.prof"
    env = bench.bench_environment(IT_POSTGRES_URL=pg_url)
    subprocess.run(
        [
            str(python),
            "-m",
            "cProfile",
            "-o",
            str(output),
            "-m",
            "pytest",
            SAMPLE_TEST,
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    print(f"\n## cProfile of one {variant.name} run (external), by cumulative time\n")
    print("```")
    stats = pstats.Stats(str(output), stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(r"tests/integration/harness", 25)
    print("```")


def clean_up(urls: dict[str, str]) -> None:
    """Kept containers, kept and leftover databases of project bench, the recipe's."""
    removed = bench.remove_benchmark_containers()
    leftovers = bench.leftover_databases(urls["IT_POSTGRES_URL"], "test_bench")
    bench.drop_databases(urls["IT_POSTGRES_URL"], leftovers)
    bench.log(f"clean-up: removed {len(removed)} container(s), {len(leftovers)} database(s)")


if __name__ == "__main__":
    main()
