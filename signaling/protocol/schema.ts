// A tiny typed validator: each schema both checks an untrusted value and
// declares its TypeScript type, so the message catalog is written once.
// (Small enough that a dependency like zod is not worth it.)

export class ValidationError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ValidationError';
  }
}

export interface Schema<T> {
  parse(value: unknown, path: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * The one text rule: client text never holds NUL (U+0000) or a lone UTF-16
 * surrogate. PostgreSQL text and jsonb cannot store NUL, and a lone surrogate
 * has no UTF-8 encoding (drivers silently turn it into U+FFFD), so such text
 * is refused at the edge instead of failing (or changing) in the database.
 */
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL (U+0000)';
  if (!wellFormed(value)) return 'must not contain unpaired UTF-16 surrogates';
  return null;
}
// ES2024's String.prototype.isWellFormed (Node 20, current browsers): false when a surrogate is
// unpaired; constant time for strings V8 stores one byte per character (most SDP). Older browsers
// running the SDK get the regex: without the u flag it sees UTF-16 code units, a high surrogate not
// followed by a low one, or a low surrogate not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
interface WellFormedCheck {
  isWellFormed(): boolean;
}
const wellFormed: (value: string) => boolean =
  'isWellFormed' in String.prototype
    ? (value) => (value as unknown as WellFormedCheck).isWellFormed()
    : (value) => !LONE_SURROGATE.test(value);

/** Throws a ValidationError naming `path` when `value` breaks the text rule. */
export function checkText(value: string, path: string): void {
  const problem = textProblem(value);
  if (problem) throw new ValidationError(path, `${path} ${problem}`);
}

export function string(opts: { min?: number; max: number; pattern?: RegExp; hint?: string }): Schema<string> {
  const min = opts.min ?? 0;
  return {
    parse(value, path) {
      if (typeof value !== 'string') throw new ValidationError(path, `${path} must be a string, got ${describe(value)}`);
      checkText(value, path);
      if (value.length < min) throw new ValidationError(path, `${path} must have at least ${min} characters`);
      if (value.length > opts.max) throw new ValidationError(path, `${path} must have at most ${opts.max} characters`);
      if (opts.pattern && !opts.pattern.test(value)) {
        throw new ValidationError(path, `${path} ${opts.hint ?? `must match ${opts.pattern}`}`);
      }
      return value;
    },
  };
}

export function integer(opts: { min: number; max: number }): Schema<number> {
  return {
    parse(value, path) {
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw new ValidationError(path, `${path} must be an integer, got ${describe(value)}`);
      }
      if (value < opts.min || value > opts.max) {
        throw new ValidationError(path, `${path} must be between ${opts.min} and ${opts.max}`);
      }
      return value;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    parse(value, path) {
      if (typeof value !== 'boolean') throw new ValidationError(path, `${path} must be a boolean, got ${describe(value)}`);
      return value;
    },
  };
}

export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  return {
    parse(value, path) {
      if (typeof value !== 'string' || !values.includes(value)) {
        throw new ValidationError(path, `${path} must be one of ${values.join(', ')}`);
      }
      return value;
    },
  };
}

/** Accepts null as well as the inner type (WebRTC uses null for "absent" in ICE candidates). */
export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return {
    parse(value, path) {
      return value === null ? null : inner.parse(value, path);
    },
  };
}

const OPTIONAL = Symbol('optional');
export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly [OPTIONAL]: true;
}

export function optional<T>(inner: Schema<T>): OptionalSchema<T> {
  return {
    [OPTIONAL]: true,
    parse(value, path) {
      return value === undefined ? undefined : inner.parse(value, path);
    },
  };
}

/** Deepest nesting of arrays/objects a pass-through JSON value may have (stringifying deeper input could overflow the stack). */
export const JSON_MAX_DEPTH = 32;

/**
 * Walks a parsed JSON value without recursion: every string and key follows
 * the text rule, and nesting stays within JSON_MAX_DEPTH. Field paths name
 * the offending place (payload.data.a[3]).
 */
function checkJsonTree(root: unknown, path: string): void {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: root, path, depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, path: at, depth } = next;
    if (typeof value === 'string') {
      checkText(value, at);
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new ValidationError(at, `${at} must be a finite number`);
    } else if (typeof value === 'object' && value !== null) {
      if (depth >= JSON_MAX_DEPTH) throw new ValidationError(at, `${path} must not nest deeper than ${JSON_MAX_DEPTH} levels`);
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: `${at}[${i}]`, depth: depth + 1 });
      } else {
        for (const key of Object.keys(value)) {
          checkText(key, `${at} key`);
          stack.push({ value: (value as Record<string, unknown>)[key], path: `${at}.${key}`, depth: depth + 1 });
        }
      }
    } else if (typeof value !== 'boolean' && value !== null) {
      throw new ValidationError(at, `${at} must be JSON, got ${describe(value)}`);
    }
  }
}

/** UTF-8 length of a string without encoding it (this file also runs in browsers: no Buffer). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair is one 4-byte character (lone surrogates never get here: checkText refuses them)
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function checkJsonSize(value: unknown, path: string, maxBytes: number): void {
  if (utf8Length(JSON.stringify(value)) > maxBytes) {
    throw new ValidationError(path, `${path} must serialize to at most ${maxBytes} bytes`);
  }
}

/** A JSON object of bounded serialized size and depth, passed through as-is (client capabilities, metadata, strokes). */
export function jsonObject(opts: { maxBytes: number }): Schema<Record<string, unknown>> {
  return {
    parse(value, path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ValidationError(path, `${path} must be an object, got ${describe(value)}`);
      }
      checkJsonTree(value, path);
      checkJsonSize(value, path, opts.maxBytes);
      return value as Record<string, unknown>;
    },
  };
}

/** Any JSON value (required) of bounded serialized size and depth (data messages). */
export function jsonValue(opts: { maxBytes: number }): Schema<unknown> {
  return {
    parse(value, path) {
      if (value === undefined) throw new ValidationError(path, `${path} is required`);
      checkJsonTree(value, path);
      checkJsonSize(value, path, opts.maxBytes);
      return value;
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? never : K }[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined>;
};

/**
 * Validates the listed fields and returns a new object holding only them:
 * unknown fields are dropped, so nothing unvalidated is ever relayed.
 */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const keys = Object.keys(shape);
  // The fields' paths per parent path, made once: building "payload.sdp" for every field of every
  // message allocated strings on the relay path. Bounded: paths inside arrays carry indices.
  const fieldPaths = new Map<string, string[]>();
  const pathsUnder = (path: string): string[] => {
    let paths = fieldPaths.get(path);
    if (!paths) {
      paths = keys.map((key) => (path ? `${path}.${key}` : key));
      if (fieldPaths.size < MAX_CACHED_PATHS) fieldPaths.set(path, paths);
    }
    return paths;
  };
  return {
    parse(value, path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ValidationError(path, `${path} must be an object, got ${describe(value)}`);
      }
      const input = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const paths = pathsUnder(path);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        const parsed = shape[key].parse(input[key], paths[i]);
        if (parsed !== undefined) out[key] = parsed;
      }
      return out as ObjectOf<S>;
    },
  };
}
const MAX_CACHED_PATHS = 64;

/** An array of at most `max` (and at least `min`) items, each validated; paths read `field[i]`. */
export function array<T>(inner: Schema<T>, opts: { min?: number; max: number }): Schema<T[]> {
  const min = opts.min ?? 0;
  return {
    parse(value, path) {
      if (!Array.isArray(value)) throw new ValidationError(path, `${path} must be an array, got ${describe(value)}`);
      if (value.length < min) throw new ValidationError(path, `${path} must have at least ${min} items`);
      if (value.length > opts.max) throw new ValidationError(path, `${path} must have at most ${opts.max} items`);
      return value.map((item, i) => inner.parse(item, `${path}[${i}]`));
    },
  };
}

/** A finite number (fractions allowed) in [min, max]. */
export function number(opts: { min: number; max: number }): Schema<number> {
  return {
    parse(value, path) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new ValidationError(path, `${path} must be a number, got ${describe(value)}`);
      }
      if (value < opts.min || value > opts.max) throw new ValidationError(path, `${path} must be between ${opts.min} and ${opts.max}`);
      return value;
    },
  };
}

/** The first schema that accepts the value; the error names every alternative. */
export function either<A, B>(a: Schema<A>, b: Schema<B>, hint: string): Schema<A | B> {
  return {
    parse(value, path) {
      for (const s of [a, b] as Array<Schema<A | B>>) {
        try {
          return s.parse(value, path);
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
        }
      }
      throw new ValidationError(path, `${path} must be ${hint}`);
    },
  };
}

/** An object used as a map: at most `maxKeys` keys, each key and value validated (`field.key` paths). */
export function record<T>(key: Schema<string>, inner: Schema<T>, opts: { maxKeys: number }): Schema<Record<string, T>> {
  return {
    parse(value, path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ValidationError(path, `${path} must be an object, got ${describe(value)}`);
      }
      const entries = Object.entries(value);
      if (entries.length > opts.maxKeys) throw new ValidationError(path, `${path} must have at most ${opts.maxKeys} keys`);
      const out: Record<string, T> = {};
      for (const [k, v] of entries) {
        const at = `${path}.${k}`;
        key.parse(k, at);
        // defineProperty: a key such as '__proto__' becomes an own data property, never the prototype.
        Object.defineProperty(out, k, { value: inner.parse(v, at), enumerable: true, writable: true, configurable: true });
      }
      return out;
    },
  };
}
