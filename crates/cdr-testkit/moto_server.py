"""The S3 test server of cdr-testkit: moto's WSGI application, one request at a time.

    python moto_server.py --port PORT [--host 127.0.0.1] [--ignore-conditions]

Run it with the test environment's Python (`target/test-env/bin/python`, made by
`cargo xtask test`). Exit status 97: moto (or Flask) is not installed; 98: moto
is older than MIN_MOTO (its version is the first line on stderr).

Why a lock: moto's server checks `If-None-Match` / `If-Match` and then writes,
on one thread per request, so two concurrent conditional PUTs of one key can
both succeed. On real S3 exactly one wins, and the archive's claims (create-only
and compare-and-swap writes) rely on that. Running every request under one
global lock makes each check-and-write atomic, as it is on S3. Request bodies are
read before the lock is taken, so a slow or stalled client (a fault-injecting
proxy) never holds up the others.

`--ignore-conditions` strips `If-None-Match` and `If-Match` from every request:
a store that ignores conditional writes, which the archiver must detect and
refuse.
"""

import argparse
import io
import os
import sys
import threading

MIN_MOTO = (5, 2, 5)
EXIT_MOTO_MISSING = 97
EXIT_MOTO_TOO_OLD = 98
CONDITIONAL_HEADERS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH")


def version_tuple(text):
    parts = []
    for part in text.split(".")[:3]:
        digits = ""
        for c in part:
            if not c.isdigit():
                break
            digits += c
        parts.append(int(digits or 0))
    return tuple(parts)


def buffer_body(environ):
    """Reads the whole request body into memory (before the lock is taken).

    False when the body ended before its Content-Length: the client is gone
    (a cut connection), and moto must not store what arrived.
    """
    stream = environ.get("wsgi.input")
    if stream is None:
        return True
    length = environ.get("CONTENT_LENGTH") or ""
    if length.strip():
        remaining = int(length)
        chunks = []
        while remaining > 0:
            chunk = stream.read(min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        if remaining > 0:
            return False
        body = b"".join(chunks)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        return True
    environ["wsgi.input"] = io.BytesIO(body)
    return True


class OneRequestAtATime:
    """WSGI middleware: the wrapped application serves one request at a time."""

    def __init__(self, app, ignore_conditions):
        self.app = app
        self.ignore_conditions = ignore_conditions
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not buffer_body(environ):
            message = b"request body ended before its Content-Length"
            start_response(
                "400 Bad Request",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(message)))],
            )
            return [message]
        if self.ignore_conditions:
            for key in CONDITIONAL_HEADERS:
                environ.pop(key, None)
        with self.lock:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--ignore-conditions",
        action="store_true",
        help="strip If-None-Match and If-Match from every request",
    )
    args = parser.parse_args(argv)

    try:
        import moto
        from moto.server import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import run_simple
    except ImportError as e:
        print(f"cannot import moto's server: {e}", file=sys.stderr)
        sys.exit(EXIT_MOTO_MISSING)
    if version_tuple(moto.__version__) < MIN_MOTO:
        print(moto.__version__, file=sys.stderr)
        sys.exit(EXIT_MOTO_TOO_OLD)

    # moto builds some URLs of its own from this, as its own `main` does.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = OneRequestAtATime(
        DomainDispatcherApplication(create_backend_app), args.ignore_conditions
    )
    run_simple(
        args.host,
        args.port,
        app,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
