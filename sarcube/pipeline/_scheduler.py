"""The Dask scheduler a run uses: threads, processes, a LocalCluster or a running cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

from ..errors import ParameterError

if TYPE_CHECKING:
    pass


@contextmanager
def scheduler(spec: str | None) -> Iterator[None]:
    """A context manager that makes *spec* the Dask scheduler for its block.

    ``None`` or ``"threads"``: dask's threads; ``"processes"``,
    ``"synchronous"``; ``"local:N"``: a new ``LocalCluster`` of N single-threaded
    worker processes (closed afterwards); anything with ``://`` (e.g.
    ``tcp://10.0.0.5:8786``): an existing dask.distributed scheduler.

    Examples
    --------
    >>> import dask
    >>> from sarcube.pipeline import scheduler
    >>> with scheduler("synchronous"):
    ...     dask.config.get("scheduler")
    'synchronous'

    ``scheduler("local:2")`` starts a two-worker ``LocalCluster`` on 127.0.0.1 for
    the block and closes it afterwards.
    """
    import dask

    if spec in (None, "threads", "processes", "synchronous"):
        with dask.config.set(scheduler=spec or "threads") if spec else nullcontext():
            yield
        return
    assert spec is not None
    from distributed import Client, LocalCluster

    if spec.startswith("local:"):
        try:
            workers = int(spec.split(":", 1)[1])
        except ValueError:
            workers = 0
        if workers < 1:
            raise ParameterError(f"scheduler {spec!r}: use local:N with N >= 1 workers")
        with (
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
            ) as cluster,
            Client(cluster),  # type: ignore[no-untyped-call]
        ):
            yield
        return
    if "://" not in spec:
        raise ParameterError(
            f"unknown scheduler {spec!r}; use threads, processes, synchronous, local:N or a "
            "dask.distributed address such as tcp://host:8786"
        )
    with Client(spec):  # type: ignore[no-untyped-call]
        yield


_use_scheduler = scheduler  # Pipeline.run has a parameter of the same name
