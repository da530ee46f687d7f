"""The demo's proof that its pipeline streams: change one row in PostgreSQL and wait until the sink has it.

Usage: demo_change.py   (the bed must be up, with the demo pipeline running; make demo runs it)
It updates public.products id 1 in the source database ``shop`` and polls the same row in the ``sink`` database
until it is equal, printing both and the time it took. Exits 1 when the row does not arrive within 60 s.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bed  # noqa: E402
import pg_seed  # noqa: E402

QUERY = "SELECT id, name, price FROM public.products WHERE id = 1"


def row(pg, dbname):
    conn = pg_seed.admin_connect(pg, dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(QUERY)
            return cur.fetchone()
    finally:
        conn.close()


def main():
    pg = bed.state()["postgres"]["logical"]
    conn = pg_seed.admin_connect(pg, pg["demo"]["database"])
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE public.products SET price = price + 1, updated_at = now() WHERE id = 1")
    finally:
        conn.close()
    source = row(pg, pg["demo"]["database"])
    print("source  shop.public.products: %s" % (source,))
    start = time.monotonic()
    while time.monotonic() - start < 60:
        sink = row(pg, pg["demo"]["sink_database"])
        if sink == source:
            print("sink    sink.public.products: %s  (arrived in %.1f s)" % (sink, time.monotonic() - start))
            return 0
        time.sleep(0.2)
    print("sink    sink.public.products: %s  (not arrived within 60 s)" % (sink,))
    return 1


if __name__ == "__main__":
    sys.exit(main())
