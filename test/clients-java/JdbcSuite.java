// pgjdbc as Java applications use it: PreparedStatement (server-prepared after prepareThreshold,
// then binary transfer), batches, generated keys, arrays (createArrayOf), fetch-size cursors,
// transactions, and DatabaseMetaData (what ORMs and schema tools read). Run by
// test/clients-java.test.ts against PostgreSQL 15 and Weft: `java JdbcSuite <jdbc url>`; prints
// one line per check and exits 1 if any check failed.
import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class JdbcSuite {
  private static int failures = 0;

  interface Check {
    void run(Connection c) throws Exception;
  }

  private static void check(String name, Connection c, Check body) {
    try {
      body.run(c);
      System.out.println("OK   " + name);
    } catch (Throwable e) {
      failures++;
      System.out.println("FAIL " + name + ": " + e);
      try {
        if (!c.getAutoCommit()) c.rollback();
      } catch (SQLException ignored) {
        // the check's own failure is what matters
      }
    }
  }

  private static void eq(Object expected, Object actual, String what) {
    if (!Objects.equals(expected, actual)) throw new AssertionError(what + ": expected <" + expected + "> but got <" + actual + ">");
  }

  public static void main(String[] args) throws Exception {
    try (Connection c = DriverManager.getConnection(args[0])) {
      check("connects and reports PostgreSQL 15", c, (x) -> eq(15, x.getMetaData().getDatabaseMajorVersion(), "major version"));
      try (Statement s = c.createStatement()) {
        s.execute("DROP TABLE IF EXISTS jd_item");
        s.execute("DROP TABLE IF EXISTS jd_owner");
        s.execute("CREATE TABLE jd_owner (id bigserial PRIMARY KEY, name varchar(40) NOT NULL UNIQUE)");
        s.execute("CREATE TABLE jd_item (id bigserial PRIMARY KEY, owner_id bigint NOT NULL REFERENCES jd_owner (id), label text, price numeric(10, 2), at timestamptz)");
        s.execute("CREATE INDEX jd_item_label ON jd_item (label)");
      }
      check("generated keys from INSERT", c, (x) -> {
        try (PreparedStatement p = x.prepareStatement("INSERT INTO jd_owner (name) VALUES (?)", Statement.RETURN_GENERATED_KEYS)) {
          for (String n : new String[] {"ann", "bob"}) {
            p.setString(1, n);
            eq(1, p.executeUpdate(), "update count");
            try (ResultSet k = p.getGeneratedKeys()) {
              k.next();
              eq(n.equals("ann") ? 1L : 2L, k.getLong("id"), "generated id");
            }
          }
        }
      });
      check("batch insert in a transaction, rollback undoes a second one", c, (x) -> {
        x.setAutoCommit(false);
        try (PreparedStatement p = x.prepareStatement("INSERT INTO jd_item (owner_id, label, price, at) VALUES (?, ?, ?, ?)")) {
          for (int i = 1; i <= 40; i++) {
            p.setLong(1, 1 + i % 2);
            p.setString(2, "item " + i);
            p.setBigDecimal(3, new BigDecimal(i + ".50"));
            p.setTimestamp(4, Timestamp.valueOf("2024-01-02 03:04:05"));
            p.addBatch();
          }
          int[] counts = p.executeBatch();
          eq(40, counts.length, "batch results");
          x.commit();
          p.setLong(1, 1);
          p.setString(2, "rolled back");
          p.setBigDecimal(3, BigDecimal.ONE);
          p.setTimestamp(4, null);
          p.executeUpdate();
          x.rollback();
        } finally {
          x.setAutoCommit(true);
        }
        try (Statement s = x.createStatement(); ResultSet r = s.executeQuery("SELECT count(*), sum(price) FROM jd_item")) {
          r.next();
          eq(40L, r.getLong(1), "rows");
          eq(new BigDecimal("840.00"), r.getBigDecimal(2), "sum");
        }
      });
      check("prepared statement reused past prepareThreshold (server-prepared, binary) and createArrayOf = ANY(?)", c, (x) -> {
        try (PreparedStatement p = x.prepareStatement("SELECT id, label, price FROM jd_item WHERE id = ANY(?) ORDER BY id")) {
          for (int round = 0; round < 8; round++) {
            Long[] ids = {3L, 7L, 11L, (long) (20 + round)};
            p.setArray(1, x.createArrayOf("bigint", ids));
            List<Long> got = new ArrayList<>();
            try (ResultSet r = p.executeQuery()) {
              while (r.next()) got.add(r.getLong(1));
            }
            eq(Arrays.asList(ids), got, "ids in round " + round);
          }
        }
        try (PreparedStatement p = x.prepareStatement("SELECT label, price, at FROM jd_item WHERE id = ?")) {
          for (int round = 0; round < 8; round++) {
            p.setLong(1, 5);
            try (ResultSet r = p.executeQuery()) {
              r.next();
              eq("item 5", r.getString(1), "label");
              eq(new BigDecimal("5.50"), r.getBigDecimal(2), "price");
              eq(Timestamp.valueOf("2024-01-02 03:04:05"), r.getTimestamp(3), "timestamp");
            }
          }
        }
      });
      check("array columns read as java.sql.Array", c, (x) -> {
        try (Statement s = x.createStatement(); ResultSet r = s.executeQuery("SELECT ARRAY[1, 2, NULL]::int4[] AS a, ARRAY['x', 'y z']::text[] AS b")) {
          r.next();
          eq(Arrays.asList(1, 2, null), Arrays.asList((Object[]) r.getArray(1).getArray()), "int4[]");
          eq(Arrays.asList("x", "y z"), Arrays.asList((Object[]) r.getArray(2).getArray()), "text[]");
        }
      });
      check("fetch size streams a query through a suspended portal", c, (x) -> {
        x.setAutoCommit(false);
        try (PreparedStatement p = x.prepareStatement("SELECT id FROM jd_item ORDER BY id")) {
          p.setFetchSize(7);
          long n = 0;
          long last = 0;
          try (ResultSet r = p.executeQuery()) {
            while (r.next()) {
              n++;
              last = r.getLong(1);
            }
          }
          eq(40L, n, "rows");
          eq(40L, last, "last id");
        } finally {
          x.commit();
          x.setAutoCommit(true);
        }
      });
      check("DatabaseMetaData: tables, columns, primary and imported keys, index info", c, (x) -> {
        DatabaseMetaData md = x.getMetaData();
        List<String> tables = new ArrayList<>();
        try (ResultSet r = md.getTables(null, "public", "jd_%", new String[] {"TABLE"})) {
          while (r.next()) tables.add(r.getString("TABLE_NAME"));
        }
        eq(Arrays.asList("jd_item", "jd_owner"), tables, "tables");
        List<String> cols = new ArrayList<>();
        try (ResultSet r = md.getColumns(null, "public", "jd_item", null)) {
          while (r.next()) cols.add(r.getString("COLUMN_NAME") + ":" + r.getString("TYPE_NAME") + ":" + r.getInt("NULLABLE"));
        }
        eq(Arrays.asList("id:bigserial:0", "owner_id:int8:0", "label:text:1", "price:numeric:1", "at:timestamptz:1"), cols, "columns");
        try (ResultSet r = md.getPrimaryKeys(null, "public", "jd_item")) {
          r.next();
          eq("id", r.getString("COLUMN_NAME"), "pk column");
          eq(1, r.getInt("KEY_SEQ"), "key seq");
          eq(false, r.next(), "one pk column");
        }
        try (ResultSet r = md.getImportedKeys(null, "public", "jd_item")) {
          r.next();
          eq("jd_owner", r.getString("PKTABLE_NAME"), "referenced table");
          eq("id", r.getString("PKCOLUMN_NAME"), "referenced column");
          eq("owner_id", r.getString("FKCOLUMN_NAME"), "referencing column");
        }
        Set<String> idx = new TreeSet<>();
        try (ResultSet r = md.getIndexInfo(null, "public", "jd_item", false, false)) {
          while (r.next()) idx.add(r.getString("INDEX_NAME") + ":" + r.getString("COLUMN_NAME") + ":" + r.getBoolean("NON_UNIQUE"));
        }
        eq(new TreeSet<>(Arrays.asList("jd_item_label:label:true", "jd_item_pkey:id:false")), idx, "indexes");
      });
      try (Statement s = c.createStatement()) {
        s.execute("DROP TABLE jd_item");
        s.execute("DROP TABLE jd_owner");
      }
    }
    System.out.println(failures == 0 ? "ALL PASSED" : failures + " FAILED");
    System.exit(failures == 0 ? 0 : 1);
  }
}
