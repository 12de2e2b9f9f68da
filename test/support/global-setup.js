// Integration tests talk to real services. Kafka: if nothing answers on WEFT_TEST_KAFKA
// (default 127.0.0.1:9092) the project's own script starts a broker, and this run stops it
// again afterwards. A broker that cannot start fails the run loudly; it is never skipped.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

module.exports = async function globalSetup() {
  const broker = process.env.WEFT_TEST_KAFKA || '127.0.0.1:9092';
  const port = broker.split(':')[1];
  const ready = () => {
    try {
      execFileSync(process.execPath, [path.join(ROOT, 'tools/kafka/wait-ready.js'), broker, '1500'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (ready()) return;
  process.stdout.write(`\n[global-setup] starting Kafka on ${broker} via tools/kafka/kafka.sh\n`);
  try {
    execFileSync('bash', [path.join(ROOT, 'tools/kafka/kafka.sh'), 'start'], {
      env: { ...process.env, KAFKA_PORT: port },
      stdio: 'inherit',
      timeout: 300000,
    });
  } catch (err) {
    throw new Error(`Kafka broker could not start on ${broker}: ${err.message}`, { cause: err });
  }
  process.env.WEFT_TEST_KAFKA_STARTED_BY_TESTS = port;
};
