// The one small storage seam: everything above it speaks SQL through this
// interface, and it is implemented by PGlite (embedded) and node-postgres.

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs several statements (the schema) in one go. */
  exec(sql: string): Promise<void>;
  /** Runs fn in a transaction; rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
