package dev.weft.bench;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Debezium peer of bench/cdc.ts: Debezium's PostgreSQL connector (pgoutput) in the embedded
 * engine, offsets in memory, no Kafka broker. It streams only (snapshot.mode=no_data) the table
 * public.bench_cdc and prints to stdout
 *
 * <pre>
 *   ready                      once the connector's task polls (its replication slot exists)
 *   row ID EPOCH_MICROS        per change event, the wall-clock time its batch reached this handler
 * </pre>
 *
 * Arguments are Debezium properties as key=value and override the defaults below (bench/cdc.ts
 * passes database.port and poll.interval.ms). Logs (slf4j-simple, level warn) go to stderr.
 */
public final class DebeziumPeer {
    private static final Pattern ID = Pattern.compile("\"id\"\\s*:\\s*(-?\\d+)");

    private DebeziumPeer() {}

    public static void main(String[] args) throws Exception {
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        Properties props = new Properties();
        props.setProperty("name", "weft-bench-debezium");
        props.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
        props.setProperty("offset.storage", "org.apache.kafka.connect.storage.MemoryOffsetBackingStore");
        props.setProperty("offset.flush.interval.ms", "60000");
        props.setProperty("database.hostname", "127.0.0.1");
        props.setProperty("database.port", "5432");
        props.setProperty("database.user", "postgres");
        props.setProperty("database.password", "");
        props.setProperty("database.dbname", "postgres");
        props.setProperty("topic.prefix", "bench");
        props.setProperty("plugin.name", "pgoutput");
        props.setProperty("slot.name", "bench_debezium");
        props.setProperty("publication.name", "bench_debezium");
        props.setProperty("publication.autocreate.mode", "filtered");
        props.setProperty("table.include.list", "public.bench_cdc");
        props.setProperty("snapshot.mode", "no_data");
        // The connector sleeps this long whenever the replication stream has nothing pending
        // (default 500 ms), which bounds the latency from below.
        props.setProperty("poll.interval.ms", "10");
        props.setProperty("key.converter.schemas.enable", "false");
        props.setProperty("value.converter.schemas.enable", "false");
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("expected key=value, got " + arg);
            props.setProperty(arg.substring(0, eq), arg.substring(eq + 1));
        }

        PrintStream out = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), false, StandardCharsets.UTF_8);
        AtomicBoolean failed = new AtomicBoolean(false);
        DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
                .using(props)
                .using(new DebeziumEngine.ConnectorCallback() {
                    @Override
                    public void pollingStarted() {
                        synchronized (out) {
                            out.println("ready");
                            out.flush();
                        }
                    }
                })
                .using((success, message, error) -> {
                    if (!success) {
                        failed.set(true);
                        System.err.println("debezium peer: engine stopped: " + message);
                        if (error != null) error.printStackTrace();
                    }
                })
                .notifying((List<ChangeEvent<String, String>> batch, DebeziumEngine.RecordCommitter<ChangeEvent<String, String>> committer) -> {
                    Instant t = Instant.now();
                    long micros = t.getEpochSecond() * 1_000_000L + t.getNano() / 1_000;
                    StringBuilder lines = new StringBuilder();
                    for (ChangeEvent<String, String> e : batch) {
                        String key = e.key();
                        Matcher m = key == null ? null : ID.matcher(key);
                        if (m != null && m.find()) lines.append("row ").append(m.group(1)).append(' ').append(micros).append('\n');
                        committer.markProcessed(e);
                    }
                    synchronized (out) {
                        out.print(lines);
                        out.flush();
                    }
                    committer.markBatchFinished();
                })
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                engine.close();
            } catch (Exception e) {
                // Already stopped.
            }
        }));
        engine.run();
        if (failed.get()) System.exit(1);
    }
}
