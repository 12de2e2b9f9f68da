// Go pgx v5 as Go services use it: binary parameters and results (arrays included), CopyFrom
// (binary COPY), batches (pipelined extended protocol), transactions. Run by
// test/clients-go.test.ts against PostgreSQL 15 and Weft: `go run . <dsn>`; prints one line per
// check and exits 1 if any failed.
package main

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

var failures = 0

func check(name string, body func() error) {
	if err := body(); err != nil {
		failures++
		fmt.Printf("FAIL %s: %v\n", name, err)
		return
	}
	fmt.Printf("OK   %s\n", name)
}

func eq(what string, want, got any) error {
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%s: want %#v, got %#v", what, want, got)
	}
	return nil
}

func main() {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Args[1])
	if err != nil {
		fmt.Println("FAIL connect:", err)
		os.Exit(1)
	}
	defer conn.Close(ctx)
	must := func(sql string) {
		if _, err := conn.Exec(ctx, sql); err != nil {
			fmt.Println("FAIL setup:", sql, err)
			os.Exit(1)
		}
	}
	must("DROP TABLE IF EXISTS go_item")
	must("CREATE TABLE go_item (id int8 PRIMARY KEY, name text, tags text[], price numeric(10, 2), at timestamptz, ok bool, dur interval)")

	check("CopyFrom streams rows in binary COPY", func() error {
		at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
		rows := [][]any{}
		for i := int64(1); i <= 500; i++ {
			rows = append(rows, []any{i, fmt.Sprintf("item %d", i), []string{"t", fmt.Sprint(i)}, fmt.Sprintf("%d.25", i), at.Add(time.Duration(i) * time.Hour), i%2 == 0, time.Duration(i) * time.Minute})
		}
		n, err := conn.CopyFrom(ctx, pgx.Identifier{"go_item"}, []string{"id", "name", "tags", "price", "at", "ok", "dur"}, pgx.CopyFromRows(rows))
		if err != nil {
			return err
		}
		if err := eq("copied", int64(500), n); err != nil {
			return err
		}
		var cnt int64
		var sum pgtype.Numeric
		if err := conn.QueryRow(ctx, "SELECT count(*), sum(price) FROM go_item").Scan(&cnt, &sum); err != nil {
			return err
		}
		f, _ := sum.Float64Value()
		return eq("count/sum", []any{int64(500), 125375.0}, []any{cnt, f.Float64})
	})

	check("binary []int64 parameter: id = ANY($1) selects exactly those rows", func() error {
		ids := []int64{3, 17, 42, 99, 100, 101, 250, 499, 500, 9999}
		r, err := conn.Query(ctx, "SELECT id FROM go_item WHERE id = ANY($1) ORDER BY id", ids)
		if err != nil {
			return err
		}
		got, err := pgx.CollectRows(r, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		return eq("ids", ids[:9], got)
	})

	check("binary results: arrays, timestamptz, numeric, bool, interval", func() error {
		var tags []string
		var at time.Time
		var ok bool
		var dur time.Duration
		var price pgtype.Numeric
		if err := conn.QueryRow(ctx, "SELECT tags, at, ok, dur, price FROM go_item WHERE id = $1", int64(7)).Scan(&tags, &at, &ok, &dur, &price); err != nil {
			return err
		}
		f, _ := price.Float64Value()
		return eq("row", []any{[]string{"t", "7"}, time.Date(2024, 5, 6, 14, 8, 9, 0, time.UTC), false, 7 * time.Minute, 7.25},
			[]any{tags, at.UTC(), ok, dur, f.Float64})
	})

	check("batch of queries in one round trip", func() error {
		b := &pgx.Batch{}
		b.Queue("UPDATE go_item SET ok = true WHERE id = $1", int64(1))
		b.Queue("SELECT count(*) FROM go_item WHERE ok")
		b.Queue("SELECT name FROM go_item WHERE id = $1", int64(2))
		br := conn.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			return err
		}
		var n int64
		if err := br.QueryRow().Scan(&n); err != nil {
			return err
		}
		var name string
		if err := br.QueryRow().Scan(&name); err != nil {
			return err
		}
		if err := br.Close(); err != nil {
			return err
		}
		return eq("batch", []any{int64(251), "item 2"}, []any{n, name})
	})

	check("transaction rollback undoes writes", func() error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM go_item WHERE id > $1", int64(10)); err != nil {
			return err
		}
		if err := tx.Rollback(ctx); err != nil {
			return err
		}
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM go_item").Scan(&n); err != nil {
			return err
		}
		return eq("rows", int64(500), n)
	})

	must("DROP TABLE go_item")
	if failures > 0 {
		fmt.Printf("%d FAILED\n", failures)
		os.Exit(1)
	}
	fmt.Println("ALL PASSED")
}
