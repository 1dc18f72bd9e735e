"""OTLP/HTTP with JSON bodies: each export request POSTed to a receiver's ``/v1/traces``.

The standard library's urllib, no exporter SDK. A sink must not raise during a run, so the
first failure is kept, later requests are not sent, and :meth:`OtlpPoster.check` raises it
once the run is over (the command prints it in one line and exits 2).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from sim.otlp.export import OtlpExportError

TRACES_PATH = "/v1/traces"
TIMEOUT = 10.0
"""Seconds to wait for the receiver to answer one request."""


def traces_url(endpoint: str) -> str:
    """The URL to POST to: the endpoint as given if it names a path, else ``/v1/traces`` on it.

    Raises:
        OtlpExportError: for an endpoint that is not an http(s) URL with a host.
    """
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OtlpExportError(f"--otlp-endpoint {endpoint!r}: expected an http:// or https:// "
                              "URL such as http://127.0.0.1:4318")
    if parts.path in ("", "/"):
        parts = parts._replace(path=TRACES_PATH)
    return urllib.parse.urlunsplit(parts)


class OtlpPoster:
    """POSTs each request line to an OTLP/HTTP JSON receiver.

    Args:
        endpoint: The receiver (``http://host:4318`` or a full ``.../v1/traces`` URL).
        timeout: Seconds to wait for each answer.
    """

    def __init__(self, endpoint: str, timeout: float = TIMEOUT) -> None:
        self.url = traces_url(endpoint)
        self.timeout = timeout
        self.sent = 0
        self.error: OtlpExportError | None = None

    def __call__(self, line: str) -> None:
        """Send one request (nothing once a request has failed)."""
        if self.error is not None:
            return
        request = urllib.request.Request(self.url, data=line.encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            self.error = OtlpExportError(f"{self.url}: the receiver refused request "
                                         f"{self.sent + 1} with HTTP {exc.code} {exc.reason}")
            return
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            self.error = OtlpExportError(f"{self.url}: cannot send request {self.sent + 1}: "
                                         f"{reason}")
            return
        self.sent += 1

    def check(self) -> None:
        """Raise the first failure, if any.

        Raises:
            OtlpExportError: naming the URL and the request that failed.
        """
        if self.error is not None:
            raise self.error
