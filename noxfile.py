"""Development sessions: ``nox -s lint tests bench docs demo``."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))


def _install(session: nox.Session, extras: str, *groups: str) -> None:
    """Install sarcube (editable) with *extras* and dependency *groups*, pinned by constraints."""
    deps = [d for g in groups for d in nox.project.dependency_groups(PYPROJECT, g)]
    session.install("-e", f".[{extras}]" if extras else ".", *deps, *CONSTRAINTS)


def _numba_cache(session: nox.Session) -> dict[str, str]:
    cache = Path(session.cache_dir) / "numba"
    cache.mkdir(parents=True, exist_ok=True)
    return {"NUMBA_CACHE_DIR": str(cache)}


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) and mypy --strict on the package."""
    _install(session, "plot,torch,pretrained", "dev")
    session.run("ruff", "check", "sarcube", "tests", "benchmarks", "noxfile.py", "conftest.py")
    session.run("ruff", "format", "--check", "sarcube", "tests", "benchmarks", "noxfile.py")
    session.run("mypy", "sarcube")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, the real STAC API server included.

    Installs PostgreSQL/PostGIS (apt, needs root) and the server's own virtual
    environment, and a headless Chromium for the report's browser test, first
    when they are missing.
    """
    _install(session, "plot,torch,pretrained", "test")
    session.run("bash", str(ROOT / "scripts" / "install-stac-server.sh"), external=True)
    session.run("bash", str(ROOT / "scripts" / "install-browser.sh"), external=True)
    session.run("pytest", *session.posargs, env=_numba_cache(session))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks; results are printed as Markdown for benchmarks/RESULTS.md."""
    _install(session, "plot", "test")
    env = {**_numba_cache(session), "OMP_NUM_THREADS": "1"}
    session.run("python", "benchmarks/bench_clamp_stats.py", env=env)
    session.run("python", "benchmarks/bench_filters.py", *session.posargs, env=env)
    session.run("python", "benchmarks/bench_inpaint.py", env=env)
    session.run("python", "benchmarks/bench_histogram.py", env=env)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML documentation, the notebooks run into it; any warning fails the build."""
    _install(session, "plot,vector,torch,pretrained", "docs")
    out = os.environ.get("SARCUBE_DOCS_OUT", str(ROOT / "docs" / "_build" / "html"))
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", "docs", out, env=_numba_cache(session)
    )


@nox.session
def demo(session: nox.Session) -> None:
    """Run ``sarcube demo`` into ./sarcube-demo."""
    _install(session, "plot,vector,torch")
    session.run(
        "sarcube", "demo", "--out", "sarcube-demo", *session.posargs, env=_numba_cache(session)
    )
