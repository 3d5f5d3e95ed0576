import { readFile } from 'node:fs/promises';
import type { Database } from './database.js';

const SCHEMA_FILE = new URL('../../../schema.sql', import.meta.url);
// Serializes schema application when several nodes start against one database.
const SCHEMA_LOCK_KEY = 72_511_001;

export async function applySchema(db: Database): Promise<void> {
  const schema = await readFile(SCHEMA_FILE, 'utf8');
  await db.exec(`SELECT pg_advisory_lock(${SCHEMA_LOCK_KEY});\n${schema}\nSELECT pg_advisory_unlock(${SCHEMA_LOCK_KEY});`);
}
