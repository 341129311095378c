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

Multipart uploads are listed with the time they were started, as S3 lists
them (moto 5.2.5 gives every one the same fixed date in 2010): the archiver
leaves young unfinished uploads alone, since they may be another run's.
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


def list_uploads_with_their_start(moto_s3_models, moto_s3_responses):
    """Patches moto's S3 so that ListMultipartUploads gives each upload's real
    start time (`Initiated`), as S3 does."""
    from datetime import datetime, timezone

    fake = moto_s3_models.FakeMultipart
    started = fake.__init__

    def init(self, *args, **kwargs):
        started(self, *args, **kwargs)
        self.initiated = datetime.now(timezone.utc)

    fake.__init__ = init

    def list_multipart_uploads(self):
        # moto 5.2.5's own method, with the start time of each upload.
        multiparts = list(self.backend.list_multipart_uploads(self.bucket_name).values())
        if "prefix" in self.querystring:
            prefix = self.querystring.get("prefix", [None])[0]
            multiparts = [u for u in multiparts if u.key_name.startswith(prefix)]
        uploads = [
            {
                "Key": upload.key_name,
                "UploadId": upload.id,
                "Initiator": {"ID": "cdr-testkit", "DisplayName": "cdr-testkit"},
                "Owner": {"ID": "cdr-testkit", "DisplayName": "cdr-testkit"},
                "StorageClass": "STANDARD",
                "Initiated": getattr(upload, "initiated", datetime.now(timezone.utc))
                .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                + "Z",
                "ChecksumAlgorithm": upload.metadata.get("x-amz-checksum-algorithm"),
                "ChecksumType": upload.metadata.get("x-amz-checksum-type"),
            }
            for upload in multiparts
        ]
        result = {
            "Bucket": self.bucket_name,
            "KeyMarker": "",
            "UploadIdMarker": "",
            "MaxUploads": 1000,
            "IsTruncated": False,
            "Uploads": uploads,
        }
        self.data["Action"] = "ListMultipartUploads"
        return self.serialized(moto_s3_responses.ActionResult(result))

    moto_s3_responses.S3Response.list_multipart_uploads = list_multipart_uploads


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

    import moto.s3.models
    import moto.s3.responses

    list_uploads_with_their_start(moto.s3.models, moto.s3.responses)

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
