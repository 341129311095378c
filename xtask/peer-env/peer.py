"""The reference Python client of `cargo xtask bench --peers`: what a user
might write by hand to archive CDRs to Parquet. One cursor chain over the
whole range with `requests` (one keep-alive session), each page's records
appended to column lists, written with pyarrow under an explicit schema in
row groups of about 65,536 rows, zstd as cdr-sink writes.

    python peer.py SPEC.json OUT.parquet

SPEC.json (written by xtask): url, token, query (the archiver's own GraphQL
document), variables (type, startDatetime, endDatetime, limit) and columns
([graphql name, file name, type]). Prints {"records": N, "pages": N} as JSON.
"""

import datetime
import decimal
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import requests

ROW_GROUP = 65_536

TYPES = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "decimal": pa.decimal128(38, 10),
    "int64": pa.int64(),
    "utf8": pa.string(),
}


def timestamp(text):
    return None if text is None else datetime.datetime.fromisoformat(text)


def money(value):
    if value is None:
        return None
    return decimal.Decimal(str(value)).quantize(decimal.Decimal("1e-10"))


def whole(value):
    return None if value is None else int(value)


def text(value):
    return None if value is None else str(value)


CONVERT = {"timestamp": timestamp, "decimal": money, "int64": whole, "utf8": text}


def main():
    spec = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    columns = spec["columns"]
    schema = pa.schema([pa.field(name, TYPES[ty]) for _, name, ty in columns])
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + spec["token"]
    variables = dict(spec["variables"], cursor=None)
    typename = spec["typename"]
    buffered = {name: [] for _, name, _ in columns}
    rows = records = pages = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:

        def flush():
            nonlocal rows
            if rows:
                table = pa.table(
                    [pa.array(buffered[name], type=TYPES[ty]) for _, name, ty in columns],
                    schema=schema,
                )
                writer.write_table(table)
                for values in buffered.values():
                    values.clear()
                rows = 0

        while True:
            answer = session.post(
                spec["url"] + "/graphql",
                json={"query": spec["query"], "variables": variables},
                timeout=60,
            )
            answer.raise_for_status()
            body = answer.json()
            if body.get("errors"):
                sys.exit("the API answered errors: %r" % body["errors"])
            page = body["data"]["cdrRecords"]
            pages += 1
            for cdr in page["cdrs"]:
                if cdr.get("__typename") != typename:
                    continue
                for graphql, name, ty in columns:
                    buffered[name].append(CONVERT[ty](cdr.get(graphql)))
                rows += 1
                records += 1
            if rows >= ROW_GROUP:
                flush()
            cursor = (page.get("paginationInfo") or {}).get("nextCursor")
            if not cursor:
                break
            variables["cursor"] = cursor
        flush()
    print(json.dumps({"records": records, "pages": pages}))


if __name__ == "__main__":
    main()
