"""asyncpg against the server in WEFT_PY_DSN: connect, binary parameters and results (arrays
included), a pool with its connection reset, cursors, advisory locks, COPY."""
import asyncio
import os

import asyncpg
import pytest

DSN = os.environ["WEFT_PY_DSN"]


def run(coro):
    return asyncio.run(coro)


async def _setup(conn, table):
    await conn.execute(f"DROP TABLE IF EXISTS {table}")
    await conn.execute(f"CREATE TABLE {table} (id int8 PRIMARY KEY, name text, tags text[], score float8)")
    await conn.executemany(
        f"INSERT INTO {table} VALUES ($1, $2, $3, $4)",
        [(i, f"n{i}", [f"t{i}", "x"], i / 2) for i in range(1, 51)],
    )


def test_connects_and_reports_version():
    async def main():
        conn = await asyncpg.connect(DSN)
        try:
            assert conn.get_server_version().major == 15
            assert await conn.fetchval("SELECT current_setting('client_encoding')") == "UTF8"
        finally:
            await conn.close()

    run(main())


def test_binary_array_parameter_selects_exactly_those_rows():
    async def main():
        conn = await asyncpg.connect(DSN)
        try:
            await _setup(conn, "py_apg_arr")
            ids = [3, 17, 42, 49, 50]
            rows = await conn.fetch("SELECT id FROM py_apg_arr WHERE id = ANY($1::int8[]) ORDER BY id", ids)
            assert [r["id"] for r in rows] == ids
            # type inferred from the column, no cast
            rows = await conn.fetch("SELECT id FROM py_apg_arr WHERE id = ANY($1) ORDER BY id", [1, 2, 999])
            assert [r["id"] for r in rows] == [1, 2]
            tags = await conn.fetchval("SELECT tags FROM py_apg_arr WHERE id = $1", 7)
            assert tags == ["t7", "x"]
            await conn.execute("UPDATE py_apg_arr SET tags = $1 WHERE id = 8", ["a b", None, "NULL", "é"])
            assert await conn.fetchval("SELECT tags FROM py_apg_arr WHERE id = 8") == ["a b", None, "NULL", "é"]
            assert await conn.fetchval("SELECT array_length(tags, 1) FROM py_apg_arr WHERE id = 8") == 4
        finally:
            await conn.execute("DROP TABLE IF EXISTS py_apg_arr")
            await conn.close()

    run(main())


def test_pool_reset_and_advisory_locks():
    async def main():
        pool = await asyncpg.create_pool(DSN, min_size=2, max_size=2)
        try:
            async with pool.acquire() as a:
                assert await a.fetchval("SELECT pg_try_advisory_lock(4242)") is True
                async with pool.acquire() as b:
                    assert await b.fetchval("SELECT pg_try_advisory_lock(4242)") is False
            # Releasing `a` to the pool ran its reset (pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL).
            async with pool.acquire() as c:
                async with pool.acquire() as d:
                    assert await c.fetchval("SELECT pg_try_advisory_lock(4242)") is True
                    assert await d.fetchval("SELECT pg_try_advisory_lock(4242)") is False
                    await c.execute("SELECT pg_advisory_unlock_all()")
        finally:
            await pool.close()

    run(main())


def test_server_side_cursor_iteration_in_a_transaction():
    async def main():
        conn = await asyncpg.connect(DSN)
        try:
            await _setup(conn, "py_apg_cur")
            async with conn.transaction():
                seen = [r["id"] async for r in conn.cursor("SELECT id FROM py_apg_cur ORDER BY id", prefetch=7)]
                assert seen == list(range(1, 51))
                await conn.execute("DECLARE c NO SCROLL CURSOR FOR SELECT id, name FROM py_apg_cur ORDER BY id")
                assert [tuple(r) for r in await conn.fetch("FETCH 2 FROM c")] == [(1, "n1"), (2, "n2")]
                assert await conn.execute("MOVE 10 IN c") == "MOVE 10"
                assert (await conn.fetchrow("FETCH c"))["id"] == 13
                await conn.execute("CLOSE c")
        finally:
            await conn.execute("DROP TABLE IF EXISTS py_apg_cur")
            await conn.close()

    run(main())


def test_cursor_forward_and_fetch_on_protocol_portals():
    """Cursor.forward() sends `MOVE FORWARD n <portal>` naming the protocol-level portal the
    cursor's Bind made (one namespace with DECLAREd cursors in PostgreSQL); fetch() continues
    after it. Such portals only scan forward."""
    async def main():
        conn = await asyncpg.connect(DSN)
        try:
            await _setup(conn, "py_apg_fwd")
            async with conn.transaction():
                cur = await conn.cursor("SELECT id, name FROM py_apg_fwd WHERE id > $1 ORDER BY id", 5)
                assert await cur.forward(3) == 3
                assert [r["id"] for r in await cur.fetch(2)] == [9, 10]
                assert await cur.forward(10) == 10
                assert tuple(await cur.fetchrow()) == (21, "n21")
                assert await cur.forward(100) == 29
                assert await cur.fetch(5) == []
            async with conn.transaction():
                cur = await conn.cursor("SELECT id FROM py_apg_fwd ORDER BY id")
                portal = cur._portal_name  # asyncpg's name for the Bind portal (what forward() sends)
                # FETCH over the extended protocol: Describe finds the portal's columns.
                assert [r["id"] for r in await conn.fetch(f'FETCH 2 FROM "{portal}"')] == [1, 2]
                assert await conn.execute(f'MOVE RELATIVE 3 FROM "{portal}"') == "MOVE 1"
                assert [r["id"] for r in await conn.fetch(f'FETCH ABSOLUTE 8 FROM "{portal}"')] == [8]
                assert (await cur.fetchrow())["id"] == 9
                with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError):
                    await conn.execute(f'MOVE BACKWARD 1 FROM "{portal}"')
        finally:
            await conn.execute("DROP TABLE IF EXISTS py_apg_fwd")
            await conn.close()

    run(main())


def test_binary_results_of_common_types():
    async def main():
        conn = await asyncpg.connect(DSN)
        try:
            row = await conn.fetchrow(
                "SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.5::float8 AS d, 'x'::text AS e, true AS f,"
                " 12.34::numeric AS g, '2024-01-02'::date AS h, ARRAY[1, 2]::int4[] AS i, '{\"k\": 1}'::jsonb AS j"
            )
            assert tuple(row) == (1, 2, 3, 1.5, "x", True, __import__("decimal").Decimal("12.34"),
                                  __import__("datetime").date(2024, 1, 2), [1, 2], '{"k": 1}')
        finally:
            await conn.close()

    run(main())


def test_binary_copy_in_and_out():
    import datetime
    import decimal
    import io
    import uuid

    async def main():
        conn = await asyncpg.connect(DSN)
        try:
            for t in ("py_apg_copy", "py_apg_copy2"):
                await conn.execute(f"DROP TABLE IF EXISTS {t}")
                await conn.execute(
                    f"CREATE TABLE {t} (id int8 PRIMARY KEY, name text, amount numeric(10, 2), at timestamptz,"
                    " tags text[], ok bool, ref uuid, blob bytea, note text DEFAULT 'dflt')"
                )
            at = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc)
            records = [
                (i, f"név {i}", decimal.Decimal(f"{i}.25"), at + datetime.timedelta(days=i), [f"t{i}", None], i % 2 == 0,
                 uuid.UUID(int=i), bytes([i % 256, 0, 255]))
                for i in range(1, 301)
            ]
            records.append((1000, None, None, None, None, None, None, None))
            columns = ["id", "name", "amount", "at", "tags", "ok", "ref", "blob"]
            res = await conn.copy_records_to_table("py_apg_copy", records=records, columns=columns)
            assert res == "COPY 301"
            got = await conn.fetch(f"SELECT {', '.join(columns)}, note FROM py_apg_copy ORDER BY id")
            assert [tuple(r)[:8] for r in got] == records
            assert {r["note"] for r in got} == {"dflt"}
            # binary COPY TO, then that stream back in with binary COPY FROM
            buf = io.BytesIO()
            assert await conn.copy_from_table("py_apg_copy", output=buf, format="binary") == "COPY 301"
            buf.seek(0)
            assert await conn.copy_to_table("py_apg_copy2", source=buf, format="binary") == "COPY 301"
            a = await conn.fetch("SELECT * FROM py_apg_copy ORDER BY id")
            b = await conn.fetch("SELECT * FROM py_apg_copy2 ORDER BY id")
            assert [tuple(r) for r in a] == [tuple(r) for r in b]
            # a duplicate key in the stream fails the whole COPY
            with pytest.raises(asyncpg.exceptions.UniqueViolationError):
                await conn.copy_records_to_table("py_apg_copy", records=[(5000,), (1,)], columns=["id"])
            assert await conn.fetchval("SELECT count(*) FROM py_apg_copy WHERE id = 5000") == 0
        finally:
            await conn.execute("DROP TABLE IF EXISTS py_apg_copy")
            await conn.execute("DROP TABLE IF EXISTS py_apg_copy2")
            await conn.close()

    run(main())


def test_time_and_interval_in_binary():
    import datetime

    async def main():
        conn = await asyncpg.connect(DSN)
        try:
            row = await conn.fetchrow("SELECT '1 day 02:03:04.5'::interval AS a, '-1 days +02:00:00'::interval AS b, '13:14:15.25'::time AS c")
            assert row["a"] == datetime.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000)
            assert row["b"] == datetime.timedelta(days=-1, hours=2)
            assert row["c"] == datetime.time(13, 14, 15, 250000)
            got = await conn.fetchval("SELECT $1::interval + interval '1 hour'", datetime.timedelta(minutes=90))
            assert got == datetime.timedelta(minutes=150)
            assert await conn.fetchval("SELECT $1::time", datetime.time(1, 2, 3)) == datetime.time(1, 2, 3)
        finally:
            await conn.close()

    run(main())


def test_enum_values_and_arrays_round_trip_as_text():
    async def main():
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute("DROP TABLE IF EXISTS py_apg_enum")
            await conn.execute("DROP TYPE IF EXISTS py_apg_mood")
            await conn.execute("CREATE TYPE py_apg_mood AS ENUM ('sad', 'ok', 'happy')")
            await conn.execute("CREATE TABLE py_apg_enum (id int PRIMARY KEY, mood py_apg_mood, past py_apg_mood[])")
            # parameter types come from the columns: asyncpg introspects the enum and its array
            await conn.executemany("INSERT INTO py_apg_enum VALUES ($1, $2, $3)", [(1, "happy", ["sad", "ok"]), (2, "sad", None), (3, "ok", [])])
            rows = await conn.fetch("SELECT id, mood, past FROM py_apg_enum ORDER BY mood")
            assert [(r["id"], r["mood"], r["past"]) for r in rows] == [(2, "sad", None), (3, "ok", []), (1, "happy", ["sad", "ok"])]
            assert await conn.fetchval("SELECT id FROM py_apg_enum WHERE mood = $1", "ok") == 3
            with pytest.raises(asyncpg.exceptions.InvalidTextRepresentationError):
                await conn.execute("INSERT INTO py_apg_enum VALUES (4, $1)", "meh")
            await conn.execute("DROP TABLE py_apg_enum")
            await conn.execute("DROP TYPE py_apg_mood")
        finally:
            await conn.close()

    run(main())
