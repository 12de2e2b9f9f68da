#!/usr/bin/env bash
# Fetches pgjdbc from Maven Central into .cache/jdbc (pinned version) and compiles the JDBC client
# suite (test/clients-java/JdbcSuite.java) into .cache/jdbc/classes. Idempotent; .ci/run calls it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PGJDBC_VERSION=42.7.14
dir=.cache/jdbc
jar="$dir/postgresql-$PGJDBC_VERSION.jar"
mkdir -p "$dir/classes"
if [[ ! -f "$jar" ]]; then
  mvn -q -B dependency:copy -Dartifact="org.postgresql:postgresql:$PGJDBC_VERSION" -DoutputDirectory="$dir"
fi
src=test/clients-java/JdbcSuite.java
if [[ ! -f "$dir/classes/JdbcSuite.class" || "$src" -nt "$dir/classes/JdbcSuite.class" ]]; then
  javac -d "$dir/classes" -cp "$jar" "$src"
fi
echo "$dir/classes:$jar"
