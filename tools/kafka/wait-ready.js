#!/usr/bin/env node
// Waits until a Kafka broker answers a metadata request (describeCluster), or times out.
// usage: wait-ready.js host:port timeoutMs   → prints the cluster id and exits 0, else exits 1.
const { Kafka, logLevel } = require('kafkajs');

const [broker = '127.0.0.1:9092', timeoutArg = '30000'] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg);

async function attempt() {
  const admin = new Kafka({ clientId: 'weft-wait-ready', brokers: [broker], logLevel: logLevel.NOTHING,
    connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.clusterId;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

(async () => {
  for (;;) {
    try {
      const id = await attempt();
      console.log(`kafka: ${broker} ready (cluster ${id})`);
      process.exit(0);
    } catch (err) {
      if (Date.now() >= deadline) {
        console.error(`kafka: ${broker} not ready: ${err.message}`);
        process.exit(1);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
})();
