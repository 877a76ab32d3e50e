"""Range requests on files (dumps, static files): which `Range` header to act on.

Werkzeug answered 416 to every `Range` it could not serve — several ranges (``bytes=0-1,5-9``), a
malformed one (``bytes=abc``), another unit (``items=0-5``) — so a client asking a dump for a
resumable download got no dump at all. RFC 9110 §14.2 lets a server ignore `Range` (and obliges it
to for a unit it does not know) and send the whole representation with 200; 416 is for a range
that is well-formed but lies past the end (`Content-Range: bytes */LENGTH`). mlkg serves one byte
range (206, with If-Range) and ignores any other `Range`. A suffix range longer than the file means
the whole file (§14.1.3), where Werkzeug said 416.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from werkzeug.http import parse_range_header


def usable_range(header: str, length: int) -> str | None:
    """The `Range` to act on for `length` bytes: `header`, a rewrite of it, or None to ignore it.

    >>> [usable_range(h, 100) for h in ("bytes=0-9", "bytes=0-1,5-9", "items=0-5", "bytes=abc")]
    ['bytes=0-9', None, None, None]
    >>> usable_range("bytes=-500", 100), usable_range("bytes=200-", 100)
    ('bytes=0-', 'bytes=200-')
    """
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None
    start, _ = parsed.ranges[0]
    if start < 0 and -start > length:  # a suffix longer than the file: the whole file
        return "bytes=0-"
    return header


class RangeResponse(Response):
    """Flask's response, whose `make_conditional` (which `send_file` calls with the file's length)
    acts on `usable_range` of the request's `Range` instead of the header itself."""

    def make_conditional(
        self,
        request_or_environ: Any,
        accept_ranges: bool | str = False,
        complete_length: int | None = None,
    ) -> Response:
        environ = getattr(request_or_environ, "environ", request_or_environ)
        header = environ.get("HTTP_RANGE")
        if accept_ranges and complete_length and header is not None:
            wanted = usable_range(header, complete_length)
            if wanted != header:  # a copy: the request's own headers stay as they came
                environ = {k: v for k, v in environ.items() if k != "HTTP_RANGE"}
                if wanted is not None:
                    environ["HTTP_RANGE"] = wanted
        return super().make_conditional(environ, accept_ranges, complete_length)
