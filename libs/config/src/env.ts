import { z } from 'zod';

/**
 * Raised when the process environment does not describe a valid configuration.
 * `message` is one line that names the variable and the form it must take, because
 * that line is all an operator sees when the process exits.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
    readonly got: string | undefined,
  ) {
    super(
      got === undefined
        ? `${variable} is required: expected ${expected}`
        : `${variable}=${JSON.stringify(got)} is invalid: expected ${expected}`,
    );
    this.name = 'ConfigError';
  }
}

/** One environment variable: how to parse it, what to say when it is wrong, its default. */
export interface EnvVar<T> {
  readonly expected: string;
  readonly schema: z.ZodType<T>;
  readonly default?: string;
}

export type EnvSpec = Record<string, EnvVar<unknown>>;
export type EnvValues<S extends EnvSpec> = { [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

const portSchema = z
  .string()
  .regex(/^\d+$/)
  .transform(Number)
  .pipe(z.number().int().min(0).max(65535));

/** A TCP port, 0..65535 (0 asks the OS for a free one). */
export function port(defaultValue?: number): EnvVar<number> {
  return {
    expected: 'a TCP port number 0-65535',
    schema: portSchema,
    default: defaultValue === undefined ? undefined : String(defaultValue),
  };
}

/** A positive integer within bounds. */
export function int(min: number, max: number, defaultValue?: number): EnvVar<number> {
  return {
    expected: `an integer ${min}-${max}`,
    schema: z.string().regex(/^-?\d+$/).transform(Number).pipe(z.number().int().min(min).max(max)),
    default: defaultValue === undefined ? undefined : String(defaultValue),
  };
}

/** A fraction 0..1, e.g. a sampling ratio ("0.01", "1"). */
export function fraction(defaultValue?: number): EnvVar<number> {
  return {
    expected: 'a number from 0 to 1',
    schema: z.string().regex(/^(?:0|1|0?\.\d+|1\.0*)$/).transform(Number).pipe(z.number().min(0).max(1)),
    default: defaultValue === undefined ? undefined : String(defaultValue),
  };
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(values: readonly [T, ...T[]], defaultValue?: T): EnvVar<T> {
  return { expected: `one of ${values.join(', ')}`, schema: z.enum(values), default: defaultValue };
}

/** A non-empty string. */
export function text(defaultValue?: string): EnvVar<string> {
  return { expected: 'a non-empty string', schema: z.string().min(1), default: defaultValue };
}

/** A comma-separated list of host:port pairs, e.g. Kafka bootstrap brokers. */
export function hostPorts(defaultValue?: string): EnvVar<string[]> {
  const hostPort = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;
  return {
    expected: 'a comma-separated list of host:port',
    schema: z
      .string()
      .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p.length > 0))
      .pipe(z.array(z.string().regex(hostPort)).min(1)),
    default: defaultValue,
  };
}

/** Like hostPorts, but empty (the default) means "none configured". */
export function optionalHostPorts(): EnvVar<string[]> {
  const hostPort = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;
  return {
    expected: 'a comma-separated list of host:port, or empty',
    schema: z
      .string()
      .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p.length > 0))
      .pipe(z.array(z.string().regex(hostPort))),
    default: '',
  };
}

/** One cluster member's address as written in `id@host:port` lists. */
export interface NodeAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/**
 * A comma-separated list of `id@host:port` (node id 1-65535, each id once), e.g. the Raft
 * peers of a shard: `1@127.0.0.1:7100,2@127.0.0.1:7101,3@127.0.0.1:7102`.
 */
export function nodeAddresses(defaultValue?: string): EnvVar<NodeAddress[]> {
  return nodeAddressList(defaultValue, 1);
}

/** Like nodeAddresses, but empty (the default) means "not configured": an empty list. */
export function optionalNodeAddresses(): EnvVar<NodeAddress[]> {
  const v = nodeAddressList(' ', 0);
  return { ...v, expected: `${v.expected}, or empty` };
}

function nodeAddressList(defaultValue: string | undefined, min: number): EnvVar<NodeAddress[]> {
  const item = /^(\d{1,5})@([A-Za-z0-9.\-_]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
  return {
    expected: 'a comma-separated list of id@host:port with distinct node ids 1-65535 and ports 1-65535',
    schema: z
      .string()
      .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p.length > 0))
      .pipe(z.array(z.string().regex(item)).min(min))
      .transform((items) =>
        items.map((p) => {
          const m = item.exec(p) as RegExpExecArray;
          return { nodeId: Number(m[1]), host: m[2].replace(/^\[|\]$/g, ''), port: Number(m[3]) };
        }),
      )
      .refine((xs) => xs.every((x) => x.nodeId >= 1 && x.nodeId <= 65535 && x.port >= 1 && x.port <= 65535))
      .refine((xs) => new Set(xs.map((x) => x.nodeId)).size === xs.length),
    default: defaultValue,
  };
}

/** Parses `env` against `spec`; throws ConfigError naming the first bad variable. */
export function loadEnv<S extends EnvSpec>(spec: S, env: NodeJS.ProcessEnv = process.env): EnvValues<S> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(spec)) {
    const raw = env[name];
    const value = raw === undefined || raw === '' ? v.default : raw;
    if (value === undefined) throw new ConfigError(name, v.expected, undefined);
    const parsed = v.schema.safeParse(value);
    if (!parsed.success) throw new ConfigError(name, v.expected, value);
    out[name] = parsed.data;
  }
  return out as EnvValues<S>;
}

/** An optional http(s) URL; empty means "not configured". */
export function optionalUrl(): EnvVar<string> {
  return {
    expected: 'an http(s) URL or empty',
    schema: z.union([z.literal(''), z.string().regex(/^https?:\/\/\S+$/)]),
    default: '',
  };
}
