"""Run a real STAC API (stac-fastapi-pgstac on PostgreSQL + PostGIS) for tests.

Usage::

    with pgstac_api([collection_dict], item_dicts) as url:
        client = pystac_client.Client.open(url)
        ...

What :func:`pgstac_api` does, in order:

1. ``initdb`` a throw-away PostgreSQL cluster in a temporary directory and
   start it on a free port on 127.0.0.1 (never on other interfaces).
2. Create the ``postgis`` database, install the pgstac schema with
   ``pypgstac migrate`` and load the given collections and items with
   ``pypgstac load``.
3. Start ``uvicorn stac_fastapi.pgstac.app:create_app`` on another free port
   on 127.0.0.1 and wait until ``/_mgmt/ping`` answers.
4. On exit (or when any step fails) stop uvicorn and PostgreSQL by PID and
   delete the temporary directories.

The server side (uvicorn, stac-fastapi-pgstac, pypgstac) lives in its own
virtual environment because pypgstac pins dependencies that conflict with the
project's environment; ``bash scripts/install-stac-server.sh`` creates it and
installs PostgreSQL/PostGIS. This module only needs the standard library, so
it can be imported from any test without pulling in the package under test.

Behaviour of the served API worth knowing when writing tests:

* Search responses carry no ``numberMatched`` (pgstac's "context" is off).
* CQL2 filters must be sent as ``cql2-json`` in a POST search.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "StacServerError",
    "StacServerUnavailable",
    "find_server_venv",
    "pgstac_api",
]

#: Command that installs everything this module needs.
INSTALL_COMMAND = "bash scripts/install-stac-server.sh"

#: Environment variable that overrides where the server venv lives.
VENV_ENV_VAR = "SARCUBE_STAC_SERVER_VENV"

_REPO_ROOT = Path(__file__).resolve().parent.parent
_DEFAULT_VENV = _REPO_ROOT / ".stac-server-venv"

# pgstac runs as the database superuser; we name it explicitly in initdb so
# the name is the same whether or not the tests run as root.
_DB_SUPERUSER = "postgres"
_DB_NAME = "postgis"
# Any value works with trust authentication, but some clients
# (stac-fastapi's settings) insist that a password is set.
_DB_PASSWORD = "unused"
# The OS account that owns the cluster when we run as root: initdb and
# postgres refuse to run as root.
_OS_DB_USER = "postgres"

_COMMAND_TIMEOUT_S = 120.0
_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 15.0
_LOG_TAIL_LINES = 40


class StacServerUnavailable(RuntimeError):
    """The binaries or the virtual environment needed for the server are missing."""


class StacServerError(RuntimeError):
    """The server was installed but failed to start (message holds log tails)."""


# --------------------------------------------------------------------------
# Locating the installation
# --------------------------------------------------------------------------


def _unavailable(problem: str) -> StacServerUnavailable:
    return StacServerUnavailable(
        f"{problem}. Install the local STAC API server with: {INSTALL_COMMAND}"
    )


def find_server_venv() -> Path:
    """Return the virtual environment holding uvicorn, stac-fastapi-pgstac and pypgstac.

    The location is ``$SARCUBE_STAC_SERVER_VENV`` if set, else
    ``<repo>/.stac-server-venv``.

    Raises:
        StacServerUnavailable: if the venv lacks ``uvicorn`` or ``pypgstac``.
    """
    override = os.environ.get(VENV_ENV_VAR)
    venv = Path(override) if override else _DEFAULT_VENV
    for tool in ("uvicorn", "pypgstac"):
        if not os.access(venv / "bin" / tool, os.X_OK):
            raise _unavailable(f"{venv / 'bin' / tool} not found")
    return venv


def _find_postgres_bindir() -> Path:
    """Return the bin directory of the newest PostgreSQL that has PostGIS.

    We look in Debian's /usr/lib/postgresql/<major>/bin instead of on PATH:
    PATH may contain wrapper scripts (e.g. Debian's pg_wrapper, or helpers in
    /usr/local/bin) that behave differently from the real binaries.
    """
    candidates: list[tuple[int, Path]] = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        major = bindir.parent.name
        if not major.isdigit():
            continue
        tools_present = all(
            os.access(bindir / tool, os.X_OK)
            for tool in ("initdb", "pg_ctl", "postgres", "createdb")
        )
        postgis = Path(f"/usr/share/postgresql/{major}/extension/postgis.control")
        if tools_present and postgis.is_file():
            candidates.append((int(major), bindir))
    if not candidates:
        raise _unavailable(
            "No PostgreSQL server with the PostGIS extension found under /usr/lib/postgresql"
        )
    return max(candidates)[1]


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _as_db_owner(cmd: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Prefix *cmd* so that it runs as the OS user owning the cluster."""
    args = [os.fspath(part) for part in cmd]
    if _running_as_root():
        return ["runuser", "-u", _OS_DB_USER, "--", *args]
    return args


def _free_port() -> int:
    """Ask the kernel for a currently unused TCP port on 127.0.0.1.

    There is a short window in which another process could take the port
    before our server binds it; that is rare enough to accept for tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(empty)"


def _logs_report(logs: Sequence[Path]) -> str:
    return "\n".join(f"--- tail of {log.name} ---\n{_log_tail(log)}" for log in logs)


def _copy_if_exists(source: Path, target: Path) -> None:
    """Best-effort copy used during cleanup, where raising would hide the real error."""
    with contextlib.suppress(OSError):
        if source.is_file():
            shutil.copyfile(source, target)


def _run_logged(
    cmd: Sequence[str | os.PathLike[str]],
    log: IO[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path,
) -> None:
    """Run *cmd* to completion, appending its output to *log*.

    Raises:
        subprocess.CalledProcessError / subprocess.TimeoutExpired on failure;
        the caller turns these into a StacServerError with the log tails.
    """
    args = [os.fspath(part) for part in cmd]
    log.write(f"$ {' '.join(args)}\n")
    log.flush()
    subprocess.run(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=None if env is None else dict(env),
        cwd=cwd,
        check=True,
        timeout=_COMMAND_TIMEOUT_S,
    )


def _server_env(pg_port: int) -> dict[str, str]:
    """Environment for pypgstac and uvicorn.

    Built from scratch rather than copied from os.environ: stac-fastapi reads
    its settings from the environment (ENABLED_EXTENSIONS, ROOT_PATH, ...),
    and a developer's shell must not silently change the API under test.
    """
    env = {
        key: os.environ[key]
        for key in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
        if key in os.environ
    }
    env.update(
        PGHOST="127.0.0.1",
        PGPORT=str(pg_port),
        PGUSER=_DB_SUPERUSER,
        PGPASSWORD=_DB_PASSWORD,
        PGDATABASE=_DB_NAME,
        # Setting these silences stac-fastapi's "using default values" warning.
        STAC_FASTAPI_TITLE="sarcube test STAC API",
        STAC_FASTAPI_DESCRIPTION="Throw-away STAC API started by sarcube's tests",
        STAC_FASTAPI_LANDING_ID="sarcube-test",
        STAC_FASTAPI_VERSION="1.0.0",
    )
    return env


def _write_inputs(
    workdir: Path, collections: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]
) -> tuple[Path, Path]:
    """Write collections (one JSON per line) and items (ndjson) for pypgstac load."""
    collections_file = workdir / "collections.ndjson"
    items_file = workdir / "items.ndjson"
    collections_file.write_text("".join(json.dumps(c) + "\n" for c in collections))
    items_file.write_text("".join(json.dumps(i) + "\n" for i in items))
    return collections_file, items_file


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


def _make_runtime_dir() -> Path:
    """Create the directory for the cluster's data, socket and server log.

    It is separate from *workdir* because it must belong to the cluster's
    OS user (postgres when we are root) and its path must be short: Unix
    socket paths are limited to ~107 bytes, and pytest's tmp_path can be long.
    """
    # As root, TMPDIR might point somewhere the postgres user cannot reach
    # (e.g. under /root); /tmp is world-traversable by convention.
    base = "/tmp" if _running_as_root() else None
    runtime = Path(tempfile.mkdtemp(prefix="sarcube-pg-", dir=base))
    if _running_as_root():
        shutil.chown(runtime, user=_OS_DB_USER, group=None)
    return runtime


def _start_postgres(bindir: Path, runtime: Path, port: int, log: IO[str], pg_log: Path) -> Path:
    """initdb a fresh cluster under *runtime* and start it on 127.0.0.1:*port*.

    Returns the data directory (needed to stop the cluster again).
    """
    datadir = runtime / "data"
    _run_logged(
        _as_db_owner(
            [
                bindir / "initdb",
                "-D",
                datadir,
                "--username",
                _DB_SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                # Durability is worthless for a throw-away test database.
                "--no-sync",
            ]
        ),
        log,
        # The postgres user may not be allowed into the caller's cwd, and
        # initdb aborts if it cannot read its current directory.
        cwd=runtime,
    )
    server_options = " ".join(
        [
            f"-p {port}",
            f"-k {runtime}",  # Unix socket next to the data, not /run/postgresql
            "-c listen_addresses=127.0.0.1",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
        ]
    )
    _run_logged(
        _as_db_owner(
            [
                bindir / "pg_ctl",
                "start",
                "-w",
                "-t",
                str(int(_READY_TIMEOUT_S)),
                "-D",
                datadir,
                "-l",
                pg_log,
                "-o",
                server_options,
            ]
        ),
        log,
        cwd=runtime,
    )
    return datadir


def _postmaster_pid(datadir: Path) -> int | None:
    """PID of the running postmaster, read from postmaster.pid (first line)."""
    try:
        first_line = (datadir / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(first_line) if first_line.strip().isdigit() else None


def _stop_postgres(bindir: Path, datadir: Path, runtime: Path) -> None:
    """Stop the cluster; fall back to signalling the postmaster PID directly."""
    pid = _postmaster_pid(datadir)
    if pid is None:
        return  # never started (or already gone)
    # A hung pg_ctl is handled by the PID fallback below.
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            _as_db_owner([bindir / "pg_ctl", "stop", "-m", "fast", "-w", "-D", datadir]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=runtime,
            timeout=_STOP_TIMEOUT_S,
            check=False,
        )
    if _postmaster_pid(datadir) is not None:
        # pg_ctl did not manage; "immediate shutdown" is SIGQUIT to the postmaster.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
        _wait_for_exit(pid, _STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait_for_exit(pid: int, timeout: float) -> None:
    """Wait until *pid* (not our child) no longer exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


# --------------------------------------------------------------------------
# uvicorn
# --------------------------------------------------------------------------


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate *proc* politely, then forcefully."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_until_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Poll the API's ping endpoint until it answers 200.

    Raises:
        StacServerError: if uvicorn exits or does not answer in time.
    """
    ping = f"{url}/_mgmt/ping"
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StacServerError(f"uvicorn exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(ping, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet
        time.sleep(0.05)
    raise StacServerError(f"{ping} did not answer within {_READY_TIMEOUT_S:.0f} s")


# --------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------


@contextlib.contextmanager
def pgstac_api(
    collections: list[dict[str, Any]],
    items: list[dict[str, Any]],
    *,
    workdir: Path | None = None,
) -> Iterator[str]:
    """Serve *collections* and *items* from a fresh STAC API on 127.0.0.1.

    Args:
        collections: STAC collection dicts; loaded before the items.
        items: STAC item dicts; each needs a ``collection`` naming one of
            *collections*.
        workdir: directory for the input files and the server logs
            (``setup.log``, ``postgres.log``, ``uvicorn.log``); it is kept
            afterwards so the logs can be inspected. Without it a temporary
            directory is used and deleted on exit.

    Yields:
        The API root URL, e.g. ``"http://127.0.0.1:54321"`` (no trailing slash).

    Raises:
        StacServerUnavailable: PostgreSQL/PostGIS or the server venv is missing.
        StacServerError: startup failed; the message contains the log tails.
    """
    # Check the installation before creating anything, so a missing install
    # gives a clean "run the install script" message.
    venv = find_server_venv()
    bindir = _find_postgres_bindir()
    if _running_as_root() and shutil.which("runuser") is None:
        raise _unavailable("runuser (util-linux) is needed to run PostgreSQL as root")

    with contextlib.ExitStack() as cleanup:
        # ExitStack callbacks run in reverse order, also when startup fails
        # halfway, so everything started so far is stopped and deleted.
        logs_kept = workdir is not None
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="sarcube-stac-"))
            cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        else:
            workdir.mkdir(parents=True, exist_ok=True)
        workdir = workdir.resolve()

        runtime = _make_runtime_dir()
        cleanup.callback(shutil.rmtree, runtime, ignore_errors=True)
        # postgres writes its log as the postgres user, so it goes into the
        # runtime dir; copy it to workdir on exit (registered before the stop
        # callback, hence it runs after PostgreSQL has stopped).
        pg_log_runtime = runtime / "postgres.log"
        pg_log = workdir / "postgres.log"
        cleanup.callback(_copy_if_exists, pg_log_runtime, pg_log)

        setup_log_path = workdir / "setup.log"
        uvicorn_log_path = workdir / "uvicorn.log"
        logs = [setup_log_path, pg_log_runtime, uvicorn_log_path]
        setup_log = cleanup.enter_context(setup_log_path.open("w"))
        uvicorn_log = cleanup.enter_context(uvicorn_log_path.open("wb"))

        pg_port = _free_port()
        env = _server_env(pg_port)
        datadir = runtime / "data"
        try:
            cleanup.callback(_stop_postgres, bindir, datadir, runtime)
            _start_postgres(bindir, runtime, pg_port, setup_log, pg_log_runtime)

            _run_logged([bindir / "createdb", _DB_NAME], setup_log, env=env, cwd=workdir)
            # migrate creates the postgis/btree_gist extensions and pgstac schema.
            pypgstac = venv / "bin" / "pypgstac"
            _run_logged([pypgstac, "migrate"], setup_log, env=env, cwd=workdir)
            collections_file, items_file = _write_inputs(workdir, collections, items)
            if collections:
                _run_logged(
                    [pypgstac, "load", "collections", collections_file, "--method", "upsert"],
                    setup_log,
                    env=env,
                    cwd=workdir,
                )
            if items:
                _run_logged(
                    [pypgstac, "load", "items", items_file, "--method", "upsert"],
                    setup_log,
                    env=env,
                    cwd=workdir,
                )

            api_port = _free_port()
            url = f"http://127.0.0.1:{api_port}"
            uvicorn = subprocess.Popen(
                [
                    os.fspath(venv / "bin" / "uvicorn"),
                    "stac_fastapi.pgstac.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(api_port),
                    "--log-level",
                    "warning",
                ],
                stdout=uvicorn_log,
                stderr=subprocess.STDOUT,
                env=env,
                # stac-fastapi also reads settings from ./.env; workdir has none.
                cwd=workdir,
            )
            cleanup.callback(_stop_process, uvicorn)
            _wait_until_ready(url, uvicorn)
        except (StacServerError, subprocess.SubprocessError, OSError) as exc:
            setup_log.flush()
            uvicorn_log.flush()
            where = f" (full logs in {workdir})" if logs_kept else ""
            raise StacServerError(
                f"Starting the test STAC API failed{where}: {exc}\n{_logs_report(logs)}"
            ) from exc

        yield url
