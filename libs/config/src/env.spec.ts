import { ConfigError, hostPorts, int, loadEnv, oneOf, port, text } from './env';

describe('loadEnv', () => {
  const spec = {
    WEFT_HTTP_PORT: port(8080),
    WEFT_NODE_ID: int(1, 1000),
    WEFT_LOG_LEVEL: oneOf(['debug', 'info', 'warn'] as const, 'info'),
    WEFT_KAFKA_BROKERS: hostPorts('127.0.0.1:9092'),
    WEFT_DATA_DIR: text('/tmp/weft'),
  };

  it('applies defaults and parses values', () => {
    const cfg = loadEnv(spec, { WEFT_NODE_ID: '3', WEFT_KAFKA_BROKERS: 'a:1, b:2' });
    expect(cfg).toEqual({
      WEFT_HTTP_PORT: 8080,
      WEFT_NODE_ID: 3,
      WEFT_LOG_LEVEL: 'info',
      WEFT_KAFKA_BROKERS: ['a:1', 'b:2'],
      WEFT_DATA_DIR: '/tmp/weft',
    });
  });

  it('names the variable and the expected form for a non-numeric port', () => {
    expect(() => loadEnv(spec, { WEFT_NODE_ID: '1', WEFT_HTTP_PORT: 'eighty' })).toThrow(
      'WEFT_HTTP_PORT="eighty" is invalid: expected a TCP port number 0-65535',
    );
  });

  it('rejects out-of-range ports and integers', () => {
    expect(() => loadEnv(spec, { WEFT_NODE_ID: '1', WEFT_HTTP_PORT: '70000' })).toThrow(ConfigError);
    expect(() => loadEnv(spec, { WEFT_NODE_ID: '0' })).toThrow('expected an integer 1-1000');
  });

  it('reports a missing required variable', () => {
    expect(() => loadEnv(spec, {})).toThrow('WEFT_NODE_ID is required: expected an integer 1-1000');
  });

  it('rejects an unknown enum value and malformed broker lists', () => {
    expect(() => loadEnv(spec, { WEFT_NODE_ID: '1', WEFT_LOG_LEVEL: 'loud' })).toThrow(
      'expected one of debug, info, warn',
    );
    expect(() => loadEnv(spec, { WEFT_NODE_ID: '1', WEFT_KAFKA_BROKERS: 'nohost' })).toThrow(
      'WEFT_KAFKA_BROKERS',
    );
  });
});
