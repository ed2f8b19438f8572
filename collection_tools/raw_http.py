"""Reading an HTTP/1.1 response off a raw socket, for the tests and benchmarks that send
malformed requests no HTTP client would."""

from __future__ import annotations


def complete_response(data: bytes, closed: bool = False) -> tuple[int, dict[str, str], bytes] | None:
    """(status, headers, body) of the first response in ``data`` once it is whole, else None.

    An interim 100 Continue is skipped; header names are lower-cased. With neither Content-Length
    nor chunks (HTTP/1.0), the body is whole when the connection closes (``closed``).
    """
    while data.startswith(b"HTTP/1.1 100 ") and b"\r\n\r\n" in data:
        data = data.split(b"\r\n\r\n", 1)[1]
    if b"\r\n\r\n" not in data:
        return None
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    if "content-length" in headers:
        length = int(headers["content-length"])
        return (status, headers, body[:length]) if len(body) >= length else None
    if headers.get("transfer-encoding") == "chunked":
        return (status, headers, body) if body.endswith(b"0\r\n\r\n") else None
    return (status, headers, body) if closed else None
