"""psycopg 3 and SQLAlchemy 2 against the server in WEFT_PY_DSN: connect, parameters (text and
binary), named (server-side) cursors, SQLAlchemy Core, ORM and reflection basics."""
import os

import psycopg
import pytest

DSN = os.environ["WEFT_PY_DSN"]


def test_connect_and_parameters():
    with psycopg.connect(DSN) as conn:
        assert conn.info.server_version // 10000 == 15
        conn.execute("DROP TABLE IF EXISTS py_pg_t")
        conn.execute("CREATE TABLE py_pg_t (id int8 PRIMARY KEY, name text, tags text[])")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO py_pg_t VALUES (%s, %s, %s)", [(i, f"n{i}", [f"t{i}"]) for i in range(1, 31)])
        conn.commit()
        assert conn.execute("SELECT name FROM py_pg_t WHERE id = %s", (5,)).fetchone() == ("n5",)
        rows = conn.execute("SELECT id FROM py_pg_t WHERE id = ANY(%s) ORDER BY id", ([2, 4, 99],)).fetchall()
        assert rows == [(2,), (4,)]
        # binary=True: parameters and results in binary format, arrays included
        with conn.cursor(binary=True) as cur:
            cur.execute("SELECT id, tags FROM py_pg_t WHERE id = ANY(%s) ORDER BY id", ([3, 6],))
            assert cur.fetchall() == [(3, ["t3"]), (6, ["t6"])]
        conn.execute("DROP TABLE py_pg_t")
        conn.commit()


def test_enum_columns_in_text_and_binary_format():
    with psycopg.connect(DSN) as conn:
        conn.execute("DROP TABLE IF EXISTS py_pg_enum")
        conn.execute("DROP TYPE IF EXISTS py_pg_mood")
        conn.execute("CREATE TYPE py_pg_mood AS ENUM ('sad', 'ok', 'happy')")
        conn.execute("CREATE TABLE py_pg_enum (id int PRIMARY KEY, mood py_pg_mood)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO py_pg_enum VALUES (%s, %s)", [(1, "happy"), (2, "sad"), (3, "ok")])
        conn.commit()
        # An enum without a registered adapter reads as its label.
        assert conn.execute("SELECT id, mood FROM py_pg_enum ORDER BY mood").fetchall() == [(2, "sad"), (3, "ok"), (1, "happy")]
        with conn.cursor(binary=True) as cur:
            cur.execute("SELECT mood FROM py_pg_enum WHERE id = %s", (1,))
            assert cur.fetchall() == [(b"happy",)]  # binary: the label's bytes (no adapter registered)
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            conn.execute("INSERT INTO py_pg_enum VALUES (4, %s)", ("meh",))
        conn.rollback()
        conn.execute("DROP TABLE py_pg_enum")
        conn.execute("DROP TYPE py_pg_mood")
        conn.commit()


def test_named_cursor_streams_in_batches():
    with psycopg.connect(DSN) as conn:
        conn.execute("DROP TABLE IF EXISTS py_pg_named")
        conn.execute("CREATE TABLE py_pg_named (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO py_pg_named SELECT g, 'v' || g FROM generate_series(1, 120) g")
        conn.commit()
        with conn.cursor(name="big") as cur:
            cur.itersize = 25
            cur.execute("SELECT id, v FROM py_pg_named WHERE id > %s ORDER BY id", (10,))
            assert [c.name for c in cur.description] == ["id", "v"]
            got = [r[0] for r in cur]
            assert got == list(range(11, 121))
        with conn.cursor(name="scroller", scrollable=True) as cur:
            cur.execute("SELECT id FROM py_pg_named ORDER BY id")
            assert cur.fetchmany(3) == [(1,), (2,), (3,)]
            cur.scroll(-2)
            assert cur.fetchone() == (2,)
            cur.scroll(10, mode="absolute")
            assert cur.fetchone() == (11,)
        conn.rollback()
        with conn.cursor(name="held", withhold=True) as cur:
            cur.execute("SELECT id FROM py_pg_named WHERE id <= 3 ORDER BY id")
            conn.commit()
            assert cur.fetchall() == [(1,), (2,), (3,)]
        conn.execute("DROP TABLE py_pg_named")
        conn.commit()


def test_sqlalchemy_core_orm_and_reflection():
    from sqlalchemy import BigInteger, Column, ForeignKey, MetaData, String, Table, create_engine, inspect, select, text
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    url = "postgresql+psycopg://" + DSN.split("://", 1)[1]
    engine = create_engine(url)

    class Base(DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = "py_sa_author"
        id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
        name: Mapped[str] = mapped_column(String(50), unique=True)

    class Book(Base):
        __tablename__ = "py_sa_book"
        id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
        title: Mapped[str] = mapped_column(String(100))
        author_id: Mapped[int] = mapped_column(ForeignKey("py_sa_author.id"))

    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as s:
            s.add_all([Author(id=1, name="ann"), Author(id=2, name="bob")])
            s.flush()
            s.add_all([Book(id=i, title=f"b{i}", author_id=1 + i % 2) for i in range(1, 11)])
            s.commit()
            titles = s.scalars(select(Book.title).where(Book.author_id == 1).order_by(Book.id)).all()
            assert titles == ["b2", "b4", "b6", "b8", "b10"]
            # yield_per streams through a server-side cursor
            ids = [b.id for b in s.scalars(select(Book).order_by(Book.id).execution_options(yield_per=3))]
            assert ids == list(range(1, 11))
        insp = inspect(engine)
        assert {"py_sa_author", "py_sa_book"} <= set(insp.get_table_names())
        cols = {c["name"]: c for c in insp.get_columns("py_sa_book")}
        assert set(cols) == {"id", "title", "author_id"}
        assert insp.get_pk_constraint("py_sa_book")["constrained_columns"] == ["id"]
        fks = insp.get_foreign_keys("py_sa_book")
        assert [(f["constrained_columns"], f["referred_table"], f["referred_columns"]) for f in fks] == [(["author_id"], "py_sa_author", ["id"])]
        uniques = insp.get_unique_constraints("py_sa_author")
        assert [u["column_names"] for u in uniques] == [["name"]]
        meta = MetaData()
        book = Table("py_sa_book", meta, autoload_with=engine)
        with engine.connect() as c:
            assert c.execute(select(book.c.title).where(book.c.id == 3)).scalar_one() == "b3"
            assert c.execute(text("SELECT count(*) FROM py_sa_book")).scalar_one() == 10
    finally:
        Base.metadata.drop_all(engine)
        engine.dispose()
