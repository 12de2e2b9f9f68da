// One kafkajs admin client kept connected across calls. A failed call drops it (the broker may
// have gone away), so the next call connects again instead of reusing a broken client. Used by
// the node's mirror and by the CDC service.
import type { Admin, Kafka } from 'kafkajs';

export class KafkaAdminSession {
  private admin: Admin | undefined;

  constructor(private readonly kafka: Kafka) {}

  /** Runs `f` with a connected admin client. */
  async run<T>(f: (a: Admin) => Promise<T>): Promise<T> {
    const admin = await this.connected();
    try {
      return await f(admin);
    } catch (e) {
      if (this.admin === admin) this.admin = undefined;
      await admin.disconnect().catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }

  private async connected(): Promise<Admin> {
    if (this.admin !== undefined) return this.admin;
    const admin = this.kafka.admin();
    try {
      await admin.connect();
    } catch (e) {
      await admin.disconnect().catch(() => undefined);
      throw e;
    }
    this.admin = admin;
    return admin;
  }
}
