#!/usr/bin/env bash
# Install what the `stac_server` tests need to run a real STAC API locally:
#
#   1. PostgreSQL + PostGIS from Debian apt (only if missing).
#   2. A separate Python virtual environment with stac-fastapi-pgstac and
#      pypgstac (only if it does not already work).
#
# The server venv is deliberately separate from the project's own venv:
# pypgstac pins dependencies (e.g. cachetools<6.1) that conflict with ours.
#
# Environment variables:
#   SARCUBE_STAC_SERVER_VENV    where to put the server venv
#                               (default: <repo>/.stac-server-venv)
#   SARCUBE_STAC_SERVER_PYTHON  interpreter used to create it (default: python3)
#
# Safe to run repeatedly; it only does work that is still missing.
# Must run as root (or via sudo) when apt packages have to be installed.
set -euo pipefail

STAC_FASTAPI_PGSTAC_VERSION="7.2.0"
PYPGSTAC_VERSION="0.10.0"
# PostgreSQL major version that Debian 12 ships; used only when no
# PostgreSQL server is installed at all.
DEFAULT_PG_MAJOR="15"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_dir="${SARCUBE_STAC_SERVER_VENV:-$repo_root/.stac-server-venv}"
python_bin="${SARCUBE_STAC_SERVER_PYTHON:-python3}"

log() { echo "[install-stac-server] $*"; }

# shellcheck source=as-root.sh
source "$repo_root/scripts/as-root.sh"

apt_updated=0
apt_install() {
    # apt-get update is slow, so only do it once and only when installing.
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@"
}

# Highest installed PostgreSQL major version with real server binaries,
# or nothing. We look in /usr/lib/postgresql rather than on PATH because
# PATH may hold wrappers/symlinks that do not tell us the version.
installed_pg_major() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            basename "$(dirname "$dir")"
        fi
    done | sort -n | tail -n 1
}

# --- 1. PostgreSQL + PostGIS ------------------------------------------------
pg_major="$(installed_pg_major)"
if [ -z "$pg_major" ]; then
    log "PostgreSQL server binaries not found; installing PostgreSQL $DEFAULT_PG_MAJOR + PostGIS"
    apt_install postgresql "postgresql-$DEFAULT_PG_MAJOR-postgis-3"
    pg_major="$(installed_pg_major)"
    if [ -z "$pg_major" ]; then
        log "PostgreSQL still not found under /usr/lib/postgresql after install" >&2
        exit 1
    fi
fi

postgis_control="/usr/share/postgresql/$pg_major/extension/postgis.control"
if [ ! -f "$postgis_control" ]; then
    log "PostGIS for PostgreSQL $pg_major not found; installing"
    apt_install "postgresql-$pg_major-postgis-3"
fi
if [ ! -f "$postgis_control" ]; then
    log "missing $postgis_control after install" >&2
    exit 1
fi
log "PostgreSQL $pg_major with PostGIS: ok"

# --- 2. Server virtual environment -----------------------------------------
venv_works() {
    [ -x "$venv_dir/bin/uvicorn" ] && [ -x "$venv_dir/bin/pypgstac" ] &&
        "$venv_dir/bin/python" -c "import stac_fastapi.pgstac.app, pypgstac, psycopg" \
            >/dev/null 2>&1
}

if venv_works; then
    log "server venv at $venv_dir: ok (already installed)"
else
    # Debian's system python3 lacks the venv module unless python3-venv is
    # installed; a pyenv/other interpreter usually has it built in.
    if ! "$python_bin" -c "import venv, ensurepip" >/dev/null 2>&1; then
        log "$python_bin cannot create virtual environments; installing python3-venv"
        apt_install python3-venv
    fi
    log "creating server venv at $venv_dir"
    # --clear: a half-built venv from an interrupted run must not linger.
    "$python_bin" -m venv --clear "$venv_dir"
    log "installing stac-fastapi-pgstac $STAC_FASTAPI_PGSTAC_VERSION and pypgstac $PYPGSTAC_VERSION"
    "$venv_dir/bin/python" -m pip install --quiet --upgrade pip
    "$venv_dir/bin/python" -m pip install --quiet \
        "stac-fastapi-pgstac[server]==$STAC_FASTAPI_PGSTAC_VERSION" \
        "pypgstac[psycopg]==$PYPGSTAC_VERSION"
    if ! venv_works; then
        log "server venv at $venv_dir is not usable after install" >&2
        exit 1
    fi
    log "server venv at $venv_dir: ok"
fi

log "done"
