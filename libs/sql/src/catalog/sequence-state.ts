// What a sequence reports as its state (`SELECT last_value, is_called FROM seq`, pg_sequences):
// beside the reservation high-water mark under /2/1/<id> (catalog/store.ts), a marker under
// /2/2/<id> records a setval(seq, v, false) (also ALTER SEQUENCE RESTART, TRUNCATE ... RESTART
// IDENTITY): the sequence is "not called" at v until the next nextval reserves a block.
import { encodeIndexKey, type IndexKeySpec } from '@weft/storage';

const SEQ_UNCALLED: IndexKeySpec = { tableId: 2, indexId: 2, types: ['int8'], directions: ['asc'] };

export const seqUncalledKey = (id: number): Buffer => encodeIndexKey(SEQ_UNCALLED, [{ type: 'int8', value: BigInt(id) }]);

export interface SequenceState {
  /** The last value nextval handed out (see libs/sql/README.md, Sequences), or the value setval set. */
  readonly lastValue: bigint;
  /** False for a sequence never used, or after setval(seq, v, false), as in Postgres. */
  readonly isCalled: boolean;
}
