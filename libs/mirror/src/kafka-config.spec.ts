import { CONSUMER_GROUP_TIMING, KAFKA_REQUEST_TIMEOUT_MS, heartbeatDue } from './kafka-config';

describe('consumer group timing', () => {
  it('keeps the session timeout below the request timeout and within the broker default bounds', () => {
    // A follower's SyncGroup can wait at the broker for a dead leader's session to expire: the
    // request must outlast it, or the consumer crashes and rejoins as another member forever.
    expect(CONSUMER_GROUP_TIMING.sessionTimeout).toBeLessThan(KAFKA_REQUEST_TIMEOUT_MS);
    // group.min.session.timeout.ms defaults to 6 s; heartbeats at most a third of the session.
    expect(CONSUMER_GROUP_TIMING.sessionTimeout).toBeGreaterThanOrEqual(6_000);
    expect(CONSUMER_GROUP_TIMING.heartbeatInterval * 3).toBeLessThanOrEqual(CONSUMER_GROUP_TIMING.sessionTimeout);
  });
});

describe('heartbeatDue', () => {
  it('says yes at most once per interval', () => {
    const due = heartbeatDue(60_000);
    expect([due(), due(), due()]).toEqual([false, false, false]);
    const always = heartbeatDue(0);
    expect([always(), always()]).toEqual([true, true]);
  });
});
