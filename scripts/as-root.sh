# Sourced by the install scripts: as_root runs a command as root directly, or
# through sudo when there is one. Expects a log function.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root to run: $*" >&2
        exit 1
    fi
}
