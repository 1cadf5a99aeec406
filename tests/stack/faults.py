"""A fault-injecting HTTP/1.1 proxy for an S3 endpoint (s3s-fs in the tests).

One thread per client connection, plain sockets, keep-alive: each request's head and body (Content-Length or
`Transfer-Encoding: chunked`, trailers included) is read whole, forwarded byte for byte on a fresh upstream
connection (SigV4 signatures cover the Host header the client used, which s3s-fs accepts as it is), and the
response (Content-Length, chunked, or until close) relayed back. Requests that match the rule (a PUT of a key
under `/_delta_log/` ending `.json`, a Delta log entry) can be given a fault:

- `reset_after`: forward the request, wait for the upstream's whole answer (the object has landed, or was
  refused), then close the client's socket with SO_LINGER 0, a TCP reset, sending it nothing;
- `error_500`: answer 500 with an S3-style XML error body without forwarding anything;
- `error_500_after`: forward the request, wait for the upstream's whole answer, then answer 500 instead (an
  S3 error after the object landed);
- `delay`: sleep `seconds` before forwarding (the request is forwarded even if the client gave up meanwhile,
  as S3 completes a request whose body it received).

A fault fires `times` times (None: every time) and is then off. Every matching request is recorded with what
the upstream answered, so a test can count the writes of each log entry that landed.
"""

import socket
import struct
import threading
import time
import urllib.parse
import uuid


class Closed(Exception):
    """The peer closed the connection before a whole message."""


def _read_line(stream):
    line = stream.readline(65537)
    if not line:
        raise Closed()
    if not line.endswith(b"\n"):
        raise Closed()
    return line


def _read_head(stream):
    """The raw head (start line and header lines, through the blank line) and its parsed parts."""
    raw = bytearray()
    line = _read_line(stream)
    # Tolerate stray blank lines between messages.
    while line in (b"\r\n", b"\n"):
        line = _read_line(stream)
    raw += line
    start = line.decode("latin-1").rstrip("\r\n")
    headers = []
    while True:
        line = _read_line(stream)
        raw += line
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return bytes(raw), start, headers


def _header(headers, name):
    for key, value in headers:
        if key == name:
            return value
    return None


def _read_exact(stream, n):
    data = stream.read(n)
    if data is None or len(data) != n:
        raise Closed()
    return data


def _read_chunked(stream):
    """A chunked body, raw (sizes, extensions such as aws-chunked signatures, trailers)."""
    raw = bytearray()
    while True:
        line = _read_line(stream)
        raw += line
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while True:
                trailer = _read_line(stream)
                raw += trailer
                if trailer in (b"\r\n", b"\n"):
                    return bytes(raw)
        raw += _read_exact(stream, size + 2)


def _read_body(stream, headers, has_body=True, until_close=False):
    if not has_body:
        return b""
    encoding = (_header(headers, "transfer-encoding") or "").lower()
    if "chunked" in encoding:
        return _read_chunked(stream)
    length = _header(headers, "content-length")
    if length is not None:
        return _read_exact(stream, int(length))
    if until_close:
        return stream.read()
    return b""


def is_log_entry_put(method, path):
    """The rule: a PUT of a Delta log entry (`.../_delta_log/NNN.json`)."""
    return method == "PUT" and "/_delta_log/" in path and path.endswith(".json")


class FaultProxy:
    """`url` forwards to `upstream` (`http://host:port`); `set_fault` arms a fault for log-entry PUTs."""

    def __init__(self, upstream):
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.fault = None  # {"kind", "seconds", "remaining" (None: always)}
        self.rule = is_log_entry_put  # which requests the fault is for
        self.events = []  # one per matching request: {"key", "fault", "status", "at"}
        self.requests = 0
        self.in_flight = 0
        self.closed = False
        self.thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self.thread.start()

    # --- control -------------------------------------------------------------------------------------

    def set_fault(self, kind, times=None, seconds=0.0, rule=is_log_entry_put):
        """Arms `kind` for the requests `rule(method, path)` picks (log-entry PUTs unless told)."""
        assert kind in ("reset_after", "error_500", "error_500_after", "delay"), kind
        with self.lock:
            self.fault = {"kind": kind, "seconds": seconds, "remaining": times}
            self.rule = rule

    def clear(self):
        with self.lock:
            self.fault = None

    def clear_events(self):
        with self.lock:
            self.events = []

    def snapshot(self):
        with self.lock:
            return [dict(e) for e in self.events]

    def landed(self):
        """How many times each log entry key was written: PUTs the upstream answered 200."""
        counts = {}
        for event in self.snapshot():
            if event["status"] == 200:
                counts[event["key"]] = counts.get(event["key"], 0) + 1
        return counts

    def idle(self):
        with self.lock:
            return self.in_flight == 0

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass

    def _take_fault(self):
        with self.lock:
            fault = self.fault
            if fault is None:
                return None
            if fault["remaining"] is not None:
                fault["remaining"] -= 1
                if fault["remaining"] <= 0:
                    self.fault = None
            return dict(fault)

    # --- serving -------------------------------------------------------------------------------------

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="fault-proxy-conn", daemon=True).start()

    def _serve(self, client):
        stream = client.makefile("rb")
        try:
            while True:
                try:
                    raw_head, start, headers = _read_head(stream)
                except (Closed, OSError, ValueError):
                    return
                method, target, _version = (start.split(" ", 2) + ["", ""])[:3]
                if (_header(headers, "expect") or "").lower() == "100-continue":
                    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                try:
                    body = _read_body(stream, headers)
                except (Closed, OSError, ValueError):
                    return
                path = urllib.parse.unquote(target.split("?", 1)[0])
                with self.lock:
                    self.requests += 1
                    self.in_flight += 1
                try:
                    keep = self._exchange(client, method, path, raw_head + body, headers)
                finally:
                    with self.lock:
                        self.in_flight -= 1
                if not keep:
                    return
        finally:
            try:
                stream.close()
                client.close()
            except OSError:
                pass

    def _exchange(self, client, method, path, request, request_headers):
        """Handles one request; answers whether the client connection stays open."""
        with self.lock:
            rule = self.rule
        matched = rule(method, path)
        fault = self._take_fault() if matched else None
        event = None
        if matched:
            event = {"key": path, "fault": fault["kind"] if fault else None, "status": None, "at": time.monotonic()}
            with self.lock:
                self.events.append(event)
        if fault and fault["kind"] == "error_500":
            with self.lock:
                event["status"] = 500
            try:
                client.sendall(_error_500(path))
            except OSError:
                return False
            return True
        if fault and fault["kind"] == "delay":
            time.sleep(fault["seconds"])
        try:
            raw_response, status, response_headers = self._forward(method, request)
        except (Closed, OSError, ValueError):
            if event is not None:
                with self.lock:
                    event["status"] = "upstream-failed"
            _reset(client)
            return False
        if event is not None:
            with self.lock:
                event["status"] = status
                event["done"] = time.monotonic()
        if fault and fault["kind"] == "reset_after":
            _reset(client)
            return False
        if fault and fault["kind"] == "error_500_after":
            raw_response = _error_500(path)
        try:
            client.sendall(raw_response)
        except OSError:
            return False
        connection = ((_header(response_headers, "connection") or "") + "," + (_header(request_headers, "connection") or "")).lower()
        return "close" not in connection

    def _forward(self, method, request):
        """Sends one request on a fresh upstream connection; answers the raw final response."""
        with socket.create_connection(self.upstream, timeout=60) as upstream:
            upstream.sendall(request)
            stream = upstream.makefile("rb")
            try:
                while True:
                    raw_head, start, headers = _read_head(stream)
                    status = int(start.split(" ", 2)[1])
                    if 100 <= status < 200:
                        continue  # interim (100 Continue): the client already had ours
                    has_body = method != "HEAD" and status not in (204, 304)
                    body = _read_body(stream, headers, has_body, until_close=True)
                    if has_body and _header(headers, "content-length") is None and "chunked" not in (
                        _header(headers, "transfer-encoding") or ""
                    ).lower():
                        # Delimited by close: tell the client the length instead.
                        raw_head = raw_head[:-2] + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    return raw_head + body, status, headers
            finally:
                stream.close()


def _error_500(path):
    """An S3-style 500 answer (the client connection stays open)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
        "<Message>We encountered an internal error. Please try again.</Message>"
        f"<Resource>{path}</Resource><RequestId>{uuid.uuid4().hex}</RequestId></Error>"
    ).encode()
    head = (
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\nx-amz-request-id: {uuid.uuid4().hex}\r\n\r\n"
    ).encode()
    return head + body


def _reset(sock):
    """Arms SO_LINGER 0 and closes: the peer gets a TCP reset, and nothing else, once the connection's last
    reference (the caller's reader) is closed too, which `_serve` does at once."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
