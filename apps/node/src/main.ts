import { int, nodeAddresses, port, text } from '@weft/config';
import { main } from '@weft/service';
import { NodeModule } from './node.module';

main({
  name: 'node',
  defaults: { httpPort: 8180, metricsPort: 9465 },
  env: {
    WEFT_NODE_ID: int(1, 65535, 1),
    WEFT_DATA_DIR: text('.weft/node-1'),
    WEFT_RAFT_PORT: port(7100),
    /** KV RPC port: gateways read and propose through it. */
    WEFT_KV_PORT: port(7200),
    /** Every node as id@host:raft-port, this one included (default: a lone node). Each hosted shard is replicated on all of them. */
    WEFT_RAFT_PEERS: nodeAddresses('1@127.0.0.1:7100'),
    /** This node hosts a replica of shards 1..N (until the meta service places shards). */
    WEFT_SHARD_COUNT: int(1, 4096, 1),
    /** Snapshot the shard and compact its Raft log after this many applied entries. */
    WEFT_SNAPSHOT_ENTRIES: int(1, 1_000_000_000, 10_000),
    /** Entries kept in the log below a snapshot (a follower that close behind needs no snapshot). */
    WEFT_SNAPSHOT_MARGIN: int(0, 1_000_000_000, 1_000),
    /** A large (staged) transaction idle this long is presumed abandoned and aborted by the leader. */
    WEFT_STAGED_IDLE_MS: int(1_000, 86_400_000, 300_000),
  },
  module: (config) => NodeModule.forRoot(config),
});
