"""psycopg2 (libpq-based, the most deployed PostgreSQL driver for Python) against the server in
WEFT_PY_DSN: connect, client-side interpolated parameters, executemany and execute_values, COPY
with copy_expert in both directions, server-side named cursors, and its type adapters (Decimal,
date/datetime, JSON via Json, arrays, NULL)."""
import datetime
import decimal
import io
import os

import psycopg2
import psycopg2.extras
import pytest

DSN = os.environ["WEFT_PY_DSN"]


@pytest.fixture
def conn():
    c = psycopg2.connect(DSN)
    try:
        yield c
    finally:
        c.rollback()
        c.close()


def test_connect_and_parameters(conn):
    assert conn.server_version // 10000 == 15
    assert conn.encoding == "UTF8"
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS py2_t")
    cur.execute("CREATE TABLE py2_t (id int8 PRIMARY KEY, name text, tags text[], note text)")
    conn.commit()
    # psycopg2 interpolates parameters on the client: quotes, backslashes and NULL must survive.
    cur.execute("INSERT INTO py2_t VALUES (%s, %s, %s, %s)", (1, "O'Brien \\ \u00e9", ["a", "b c"], None))
    cur.execute("INSERT INTO py2_t VALUES (%(id)s, %(name)s, %(tags)s, %(note)s)", {"id": 2, "name": "two", "tags": [], "note": "x"})
    conn.commit()
    cur.execute("SELECT id, name, tags, note FROM py2_t ORDER BY id")
    assert cur.fetchall() == [(1, "O'Brien \\ \u00e9", ["a", "b c"], None), (2, "two", [], "x")]
    cur.execute("SELECT id FROM py2_t WHERE id = ANY(%s) ORDER BY id", ([2, 7],))
    assert cur.fetchall() == [(2,)]
    cur.execute("SELECT id FROM py2_t WHERE name IN %s ORDER BY id", (("two", "none"),))
    assert cur.fetchall() == [(2,)]
    assert [d.name for d in cur.description] == ["id"]


def test_executemany_and_execute_values(conn):
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS py2_many")
    cur.execute("CREATE TABLE py2_many (id int PRIMARY KEY, v text)")
    cur.executemany("INSERT INTO py2_many VALUES (%s, %s)", [(i, f"v{i}") for i in range(1, 51)])
    assert cur.rowcount == 50
    psycopg2.extras.execute_values(cur, "INSERT INTO py2_many VALUES %s", [(i, f"w{i}") for i in range(51, 301)], page_size=100)
    conn.commit()
    cur.execute("SELECT count(*), min(id), max(id) FROM py2_many")
    assert cur.fetchone() == (300, 1, 300)
    with pytest.raises(psycopg2.errors.UniqueViolation):
        cur.execute("INSERT INTO py2_many VALUES (1, 'dup')")
    conn.rollback()
    # the transaction is usable again after rollback
    cur.execute("SELECT v FROM py2_many WHERE id = 51")
    assert cur.fetchone() == ("w51",)


def test_copy_expert_in_and_out(conn):
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS py2_copy")
    cur.execute("CREATE TABLE py2_copy (id int PRIMARY KEY, label text, amount numeric(10,2))")
    conn.commit()
    data = "".join(f"{i}\tlabel {i}\t{i * 1.5:.2f}\n" for i in range(1, 201)) + "201\t\\N\t0.00\n"
    cur.copy_expert("COPY py2_copy FROM STDIN", io.StringIO(data))
    csv_in = 'id,label,amount\n300,"with, comma",3.00\n301,"quote ""q""",4.50\n'
    cur.copy_expert("COPY py2_copy FROM STDIN WITH (FORMAT csv, HEADER true)", io.StringIO(csv_in))
    conn.commit()
    cur.execute("SELECT count(*), sum(amount), count(label) FROM py2_copy")
    assert cur.fetchone() == (203, decimal.Decimal("30157.50"), 202)
    out = io.StringIO()
    cur.copy_expert("COPY (SELECT id, label, amount FROM py2_copy WHERE id <= 3 OR id >= 201 ORDER BY id) TO STDOUT WITH (FORMAT csv)", out)
    assert out.getvalue() == '1,label 1,1.50\n2,label 2,3.00\n3,label 3,4.50\n201,,0.00\n300,"with, comma",3.00\n301,"quote ""q""",4.50\n'
    text_out = io.StringIO()
    cur.copy_expert("COPY py2_copy TO STDOUT", text_out)
    assert len(text_out.getvalue().splitlines()) == 203
    with pytest.raises(psycopg2.errors.InvalidTextRepresentation):
        cur.copy_expert("COPY py2_copy FROM STDIN", io.StringIO("500\tx\tnot-a-number\n"))
    conn.rollback()


def test_named_cursor(conn):
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS py2_named")
    cur.execute("CREATE TABLE py2_named (id int PRIMARY KEY, v text)")
    cur.execute("INSERT INTO py2_named SELECT g, 'v' || g FROM generate_series(1, 130) g")
    conn.commit()
    # A named cursor is DECLARE ... CURSOR on the server, read with FETCH FORWARD itersize.
    named = conn.cursor(name="py2_big")
    named.itersize = 40
    named.execute("SELECT id, v FROM py2_named WHERE id > %s ORDER BY id", (5,))
    assert named.fetchmany(3) == [(6, "v6"), (7, "v7"), (8, "v8")]
    rest = [r[0] for r in named]
    assert rest == list(range(9, 131))
    named.close()
    scroll = conn.cursor(name="py2_scroll", scrollable=True)
    scroll.execute("SELECT id FROM py2_named ORDER BY id")
    assert scroll.fetchone() == (1,)
    scroll.scroll(9, mode="absolute")
    assert scroll.fetchone() == (10,)
    scroll.close()
    conn.commit()
    held = conn.cursor(name="py2_held", withhold=True)
    held.execute("SELECT id FROM py2_named WHERE id <= 3 ORDER BY id")
    conn.commit()
    assert held.fetchall() == [(1,), (2,), (3,)]
    held.close()


def test_types_round_trip(conn):
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS py2_types")
    cur.execute(
        "CREATE TABLE py2_types (id int PRIMARY KEY, amount numeric(12,4), day date, at timestamptz, local timestamp, doc jsonb, flag boolean, ratio float8, big int8)"
    )
    amount = decimal.Decimal("12345678.9012")
    day = datetime.date(2024, 2, 29)
    at = datetime.datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=datetime.timezone.utc)
    local = datetime.datetime(1999, 12, 31, 23, 59, 59)
    doc = {"a": [1, 2.5, None], "s": "\u00fc'\"", "n": {"deep": True}}
    cur.execute(
        "INSERT INTO py2_types VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (1, amount, day, at, local, psycopg2.extras.Json(doc), True, 0.1, 2**62),
    )
    cur.execute("INSERT INTO py2_types (id) VALUES (2)")
    conn.commit()
    cur.execute("SET TIME ZONE 'UTC'")
    cur.execute("SELECT amount, day, at, local, doc, flag, ratio, big FROM py2_types WHERE id = 1")
    row = cur.fetchone()
    assert row == (amount, day, at, local, doc, True, 0.1, 2**62)
    assert isinstance(row[0], decimal.Decimal)
    cur.execute("SELECT amount, day, at, doc FROM py2_types WHERE id = 2")
    assert cur.fetchone() == (None, None, None, None)
    cur.execute("SELECT doc->'n'->>'deep', doc->'a'->1 FROM py2_types WHERE id = %s", (1,))
    assert cur.fetchone() == ("true", 2.5)
    cur.execute("SELECT %s::numeric * 2, %s::date + 1", (decimal.Decimal("0.05"), day))
    assert cur.fetchone() == (decimal.Decimal("0.10"), datetime.date(2024, 3, 1))
    # RealDictCursor: rows as dicts keyed by column name
    dcur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
    dcur.execute("SELECT id, flag FROM py2_types ORDER BY id")
    assert dcur.fetchall() == [{"id": 1, "flag": True}, {"id": 2, "flag": None}]
