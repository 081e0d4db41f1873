"""Reading assets: GDAL names, retries with back-off, probing, the odc-stac reader."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pystac
import rasterio
from odc.loader._rio import GDAL_CLOUD_DEFAULTS, RioDriver, RioReader

from ...errors import (
    AssetReadError,
)
from .._redact import redact, redact_text
from ._common import RETRY_MAX_BACKOFF_S, log

_T = TypeVar("_T")


@dataclass(frozen=True)
class FailedAsset:
    """An asset that could not be opened when loading with ``on_error="skip"``.

    *href* and *error* have their credentials redacted (:func:`sarcube.io.redact`):
    they travel in the cube's attrs, hence into written stores.
    """

    item: str
    band: str
    href: str
    error: str


def _is_remote(href: str) -> bool:
    """True for hrefs read over a network (``http(s)``, ``s3``, ``gs``, ``/vsicurl/`` ...)."""
    if href.startswith("/vsi"):
        return not href.startswith("/vsimem/")
    scheme = urlsplit(href).scheme.lower()
    return len(scheme) > 1 and scheme != "file"  # one letter: a Windows drive


def _gdal_name(href: str) -> str:
    """The GDAL virtual file name of a remote href (what GDAL keys its cache by)."""
    scheme = urlsplit(href).scheme.lower()
    prefixes = {"http": "/vsicurl/", "https": "/vsicurl/", "s3": "/vsis3/", "gs": "/vsigs/"}
    if scheme in ("s3", "gs"):
        return prefixes[scheme] + href.split("://", 1)[1]
    return prefixes.get(scheme, "") + href


def _with_retries(
    action: Callable[[], _T], href: str, retries: int, backoff_s: float, what: str
) -> _T:
    """Run *action* (a read of *href*); retry a remote href with exponential backoff.

    GDAL remembers a failed request for the life of the process, so retries
    run with ``CPL_VSIL_CURL_NON_CACHED`` set for the href: each one asks the
    server again. Local files are read once: a missing or corrupt file on a
    disk does not heal by waiting.

    Raises
    ------
    AssetReadError
        After the last attempt, naming *href* and the number of attempts.
    """
    attempts = 1 + retries if _is_remote(href) else 1
    for attempt in range(attempts):
        try:
            if attempt == 0:
                return action()
            # (GDAL splits this option at ':', so for http(s) it covers every
            # URL of the scheme while the attempt runs: slower, never wrong)
            with rasterio.Env(CPL_VSIL_CURL_NON_CACHED=_gdal_name(href)):
                return action()
        except rasterio.errors.RasterioError as e:
            if attempt + 1 == attempts:
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                # the cause is not chained: GDAL's message quotes the href, secrets included
                raise AssetReadError(
                    f"failed to {what} asset {redact(href)}{tries}: "
                    f"{type(e).__name__}: {redact_text(str(e))}"
                ) from None
            delay = min(RETRY_MAX_BACKOFF_S, backoff_s * 2**attempt)
            log.warning(
                "cannot %s asset %s (%s); retry %d of %d in %.2f s",
                what,
                redact(href),
                redact_text(str(e)),
                attempt + 1,
                retries,
                delay,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _probe_assets(
    items: Sequence[pystac.Item], retries: int, backoff_s: float
) -> list[FailedAsset]:
    def open_one(href: str) -> None:
        with rasterio.open(href, sharing=False) as src:  # as odc-stac reads
            src.read(1, window=((0, 1), (0, 1)))

    def probe(job: tuple[str, str, str]) -> FailedAsset | None:
        item_id, band, href = job
        try:
            _with_retries(lambda: open_one(href), href, retries, backoff_s, "open")
        except Exception as e:  # any failure to open is what we are looking for
            return FailedAsset(
                item=item_id, band=band, href=redact(href), error=redact_text(str(e))
            )
        return None

    jobs = [(item.id, band, a.href) for item in items for band, a in item.assets.items()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return [f for f in pool.map(probe, jobs) if f is not None]


class _NamingReader(RioReader):
    """odc-stac's rasterio reader with retries, raising :class:`AssetReadError` naming the asset."""

    def __init__(self, src: Any, ctx: Any, retries: int, backoff_s: float) -> None:
        super().__init__(src, ctx)
        self._retries = retries
        self._backoff_s = backoff_s

    def read(self, *args: Any, **kwargs: Any) -> Any:
        read = super().read
        # a retry reads into the same window of the output again, replacing
        # whatever a failed attempt left there
        return _with_retries(
            lambda: read(*args, **kwargs),
            self._src.uri,
            self._retries,
            self._backoff_s,
            "read",
        )


class _NamingDriver(RioDriver):
    """odc-stac's rasterio driver with :class:`_NamingReader`; picklable for dask workers."""

    def __init__(self, retries: int = 3, backoff_s: float = 0.5) -> None:
        super().__init__()
        self._retries = retries
        self._backoff_s = backoff_s

    def capture_env(self) -> dict[str, Any]:
        env: dict[str, Any] = super().capture_env()
        if env == GDAL_CLOUD_DEFAULTS:
            # Nothing configured by the caller: odc-stac's default lets GDAL
            # retry an HTTP error 10 times with a growing delay (minutes per
            # read); sarcube's own retries are the one policy instead.
            env = {**env, "GDAL_HTTP_MAX_RETRY": "0"}
        return env

    def open(self, src: Any, ctx: Any) -> _NamingReader:
        return _NamingReader(src, ctx, self._retries, self._backoff_s)
