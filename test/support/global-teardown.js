// Stops the Kafka broker only if global-setup started it (a developer's own broker stays up).
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function globalTeardown() {
  const port = process.env.WEFT_TEST_KAFKA_STARTED_BY_TESTS;
  if (!port) return;
  execFileSync('bash', [path.join(__dirname, '..', '..', 'tools/kafka/kafka.sh'), 'stop'], {
    env: { ...process.env, KAFKA_PORT: port },
    stdio: 'inherit',
  });
};
