/**
 * @module
 * The installation's master key: 32 random bytes in `$BERTH_HOME/master.key` (mode 0600),
 * created on first start. Kept beside the store, not in it, so a copy of the database alone
 * (a backup, a bug report) reveals no secret.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function loadOrCreateMasterKey(path: string): Buffer {
  if (!existsSync(path)) {
    // 'wx': never overwrite a key another process has just written.
    try {
      writeFileSync(path, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte base64 key; it is damaged (restore it from a backup, or the sealed secrets in the store are lost)`);
  return key;
}
