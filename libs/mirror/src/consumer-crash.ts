import type { Consumer } from 'kafkajs';

export interface ConsumerCrashLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/**
 * Watches a kafkajs consumer's crashes. kafkajs restarts a consumer only after a crash it counts
 * as retriable; after any other (an error thrown from a batch handler, a non-retriable protocol
 * error) the consumer is disconnected and stays so, and with kafkajs' own logging off nothing
 * says so: the service looks alive while its feed stands still. Every crash is logged here, and
 * `dead` is called for one kafkajs will not restart from, so the owner can start over.
 */
export function watchConsumerCrashes(consumer: Consumer, what: string, logger: ConsumerCrashLogger, dead: (why: string) => void): void {
  consumer.on(consumer.events.CRASH, (e) => {
    const err = e.payload.error;
    const why = `${err.name}: ${err.message}`;
    if (e.payload.restart) {
      logger.warn({ consumer: what, err: why }, 'kafka consumer crashed; kafkajs restarts it');
      return;
    }
    logger.error({ consumer: what, err: why }, 'kafka consumer crashed and kafkajs will not restart it; starting it over');
    dead(why);
  });
}
