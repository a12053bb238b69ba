// Two helpers of src/config.ts for the built-in simulator's settings, kept apart to keep config.ts short. They read
// no environment: config.ts hands them the values.
import { dirname, join, resolve } from 'node:path';

/**
 * Where the built-in simulator keeps its prompts: beside the SQLite file, or, with MySQL, in ./data beside the callback
 * spool (the folder docker-compose keeps on a volume), so a restart of the app strands no prompt. One file per port,
 * so that two instances on one machine keep apart the prompts each one's simulator took.
 */
export function simulatorStatePath(databaseUrl: string, port: number): string {
  const name = `simulator-state-${port}.jsonl`;
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    if (file !== '' && file !== ':memory:') return join(dirname(resolve(file)), name);
    return resolve('data', name);
  }
  let schema = 'mysql';
  try {
    schema = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\/+/, '')) || schema;
  } catch {
    // a bad URL fails elsewhere, with a better message
  }
  return resolve('data', `${schema.replace(/[^A-Za-z0-9_-]/g, '_')}-${name}`);
}

/** The comma list of SIMULATOR_CALLBACK_ORIGINS as origins, or the problem with it. */
export function parseOrigins(raw: string): { origins: string[]; bad: string[] } {
  const origins: string[] = [];
  const bad: string[] = [];
  for (const item of raw.split(',').map((x) => x.trim()).filter(Boolean)) {
    try {
      const u = new URL(item);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      origins.push(u.origin);
    } catch {
      bad.push(item);
    }
  }
  return { origins, bad };
}
