import { readFile } from 'node:fs/promises';
import type { Database } from './database.js';

const SCHEMA_FILE = new URL('../../../schema.sql', import.meta.url);
// Serializes schema application when several nodes start against one database.
const SCHEMA_LOCK_KEY = 72_511_001;

export async function applySchema(db: Database): Promise<void> {
  const schema = await readFile(SCHEMA_FILE, 'utf8');
  // Multiproc: a transaction-level lock. The statements of one exec run in one implicit transaction,
  // so a session lock released by its last statement freed the next node before this one's
  // catalog changes committed, and its CREATE ... IF NOT EXISTS then failed on a duplicate
  // (seen with NODE_PROCESSES=2 starting together on a fresh database under load).
  await db.exec(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_KEY});\n${schema}`);
}
