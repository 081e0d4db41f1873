"""What the STAC steps share: types, the logger, the retry limits."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

BBox = tuple[float, float, float, float]
DatetimeLike = str | dt.datetime | dt.date | tuple[Any, Any] | None

#: The logger of searching and loading (retries, skipped assets): ``sarcube.io.stac``.
log = logging.getLogger("sarcube.io.stac")

#: Longest wait between two attempts to read a remote asset, in seconds.
RETRY_MAX_BACKOFF_S = 8.0
#: The most retries :func:`load` accepts: past it, a dead server would hold a read for hours.
MAX_RETRIES = 100
