import { ConfigError, loadEnv, nodeAddresses, optionalNodeAddresses } from './env';

describe('nodeAddresses (id@host:port lists, e.g. WEFT_RAFT_PEERS)', () => {
  const spec = { WEFT_RAFT_PEERS: nodeAddresses('1@127.0.0.1:7100') };

  it('parses every member with its id, host and port', () => {
    expect(loadEnv(spec, { WEFT_RAFT_PEERS: '1@127.0.0.1:7100, 2@node-2:7101,3@[::1]:7102' }).WEFT_RAFT_PEERS).toEqual([
      { nodeId: 1, host: '127.0.0.1', port: 7100 },
      { nodeId: 2, host: 'node-2', port: 7101 },
      { nodeId: 3, host: '::1', port: 7102 },
    ]);
    expect(loadEnv(spec, {}).WEFT_RAFT_PEERS).toEqual([{ nodeId: 1, host: '127.0.0.1', port: 7100 }]);
  });

  it.each(['1@127.0.0.1', '127.0.0.1:7100', '0@h:1', '1@h:70000', '1@h:1,1@g:2', 'x@h:1', '1@h:0'])('refuses %p naming the variable', (bad) => {
    expect(() => loadEnv(spec, { WEFT_RAFT_PEERS: bad })).toThrow(ConfigError);
    expect(() => loadEnv(spec, { WEFT_RAFT_PEERS: bad })).toThrow(
      `WEFT_RAFT_PEERS=${JSON.stringify(bad)} is invalid: expected a comma-separated list of id@host:port with distinct node ids 1-65535 and ports 1-65535`,
    );
  });
});

describe('optionalNodeAddresses (e.g. WEFT_META_ADDRS)', () => {
  const spec = { WEFT_META_ADDRS: optionalNodeAddresses() };
  it('is empty when unset or empty, a list when set, and refuses a malformed list', () => {
    expect(loadEnv(spec, {}).WEFT_META_ADDRS).toEqual([]);
    expect(loadEnv(spec, { WEFT_META_ADDRS: '' }).WEFT_META_ADDRS).toEqual([]);
    expect(loadEnv(spec, { WEFT_META_ADDRS: '1@m1:7400,2@m2:7400' }).WEFT_META_ADDRS).toEqual([
      { nodeId: 1, host: 'm1', port: 7400 },
      { nodeId: 2, host: 'm2', port: 7400 },
    ]);
    expect(() => loadEnv(spec, { WEFT_META_ADDRS: 'm1:7400' })).toThrow('WEFT_META_ADDRS="m1:7400" is invalid');
  });
});
