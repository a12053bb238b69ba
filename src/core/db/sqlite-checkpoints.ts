import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * WAL checkpoints off the event loop. By default SQLite checkpoints inside the COMMIT that pushes the WAL past 1000
 * pages: it copies the pages into the database file and syncs it, on the thread that committed, so on this app's hot
 * path (callbacks) every few hundred commits one of them stalls the event loop. Instead the app's connection never
 * checkpoints (wal_autocheckpoint = 0) and a worker thread with a connection of its own runs a PASSIVE checkpoint
 * every `everyMs` (PASSIVE never waits for, nor blocks, the app's readers and writers). If the worker cannot run,
 * the connection checkpoints by itself again, as SQLite does by default.
 */
export function checkpointInBackground(conn: BetterSqlite3.Database, path: string, everyMs = 250): () => Promise<void> {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require(workerData.module);
    const db = new Database(workerData.path, { fileMustExist: true });
    db.pragma('busy_timeout = 0');
    const tick = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} };
    const timer = setInterval(tick, workerData.everyMs);
    parentPort.on('message', () => { clearInterval(timer); tick(); db.close(); parentPort.close(); });
  `;
  const worker = new Worker(code, { eval: true, workerData: { module, path, everyMs } });
  worker.unref();
  conn.pragma('wal_autocheckpoint = 0');
  const fallback = () => {
    if (conn.open) conn.pragma('wal_autocheckpoint = 1000');
  };
  worker.on('error', fallback);
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= new Promise<void>((resolve) => {
      // Held until the worker has made its last checkpoint and closed (2 s at most).
      worker.ref();
      const timer = setTimeout(() => void worker.terminate().finally(resolve), 2000);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage('stop');
    });
    return stopped;
  };
}
