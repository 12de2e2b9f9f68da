// enum_first, enum_last, enum_range: the labels of an enum type, read from the argument's type
// (its value is ignored, so `enum_range(NULL::mood)` works, as in PostgreSQL).
import { S, sqlError } from '../errors';
import { type SqlType, type Value, arrayOf } from '../types/types';
import { compareEnum } from '../types/enum';
import { register } from './registry';

const labels = (type: SqlType): readonly string[] => type.enum?.labels ?? [];
const isEnum = (type: SqlType | undefined): boolean => type?.kind === 'enum';

function firstOrLast(name: string, pick: (ls: readonly string[]) => string | undefined) {
  return {
    name,
    strict: false,
    returns: (args: readonly SqlType[]) => (args.length === 1 && isEnum(args[0]) ? args[0] : undefined),
    call: (_a: readonly Value[], types: readonly SqlType[]): Value => {
      const label = pick(labels(types[0]));
      if (label === undefined) throw sqlError(S.OBJECT_NOT_IN_STATE, `enum ${types[0].enum?.name ?? ''} contains no values`);
      return label;
    },
  };
}

register(
  firstOrLast('enum_first', (ls) => ls[0]),
  firstOrLast('enum_last', (ls) => ls[ls.length - 1]),
  {
    name: 'enum_range',
    strict: false,
    returns: (args) => (args.length === 1 && isEnum(args[0]) ? arrayOf(args[0]) : undefined),
    call: (_a, types) => [...labels(types[0])],
  },
  {
    // enum_range(lower, upper): the labels between the two, inclusive; NULL bounds are open.
    name: 'enum_range',
    strict: false,
    returns: (args) => {
      if (args.length !== 2) return undefined;
      const [a, b] = args;
      // One side may be an untyped literal or NULL: it takes the other's enum type.
      const type = isEnum(a) ? a : b;
      const fits = (x: SqlType): boolean => x.kind === 'unknown' || (isEnum(x) && x.enum?.typeId === type.enum?.typeId);
      return isEnum(type) && fits(a) && fits(b) ? arrayOf(type) : undefined;
    },
    call: (a, types) => {
      const type = isEnum(types[0]) ? types[0] : types[1];
      const lo = a[0] as string | null;
      const hi = a[1] as string | null;
      if (lo === null && hi === null) return [...labels(type)];
      return labels(type).filter((l) => (lo === null || compareEnum(l, lo, type) >= 0) && (hi === null || compareEnum(l, hi, type) <= 0));
    },
  },
);
