// Daraja's clock is Nairobi's, UTC+3 all year (no daylight saving), so a fixed offset is exact and needs no tz
// database. The app's src/core/time.ts has the same two functions for its own pages; they are repeated here so that
// src/daraja imports nothing outside itself.
const NAIROBI_OFFSET_MS = 3 * 60 * 60 * 1000;

const pad = (n: number) => String(n).padStart(2, '0');

/** Daraja's Timestamp: YYYYMMDDHHmmss on the Nairobi wall clock, whatever the server's zone. */
export function darajaTimestamp(at: Date = new Date()): string {
  const n = new Date(at.getTime() + NAIROBI_OFFSET_MS);
  return (
    `${n.getUTCFullYear()}${pad(n.getUTCMonth() + 1)}${pad(n.getUTCDate())}` +
    `${pad(n.getUTCHours())}${pad(n.getUTCMinutes())}${pad(n.getUTCSeconds())}`
  );
}

/** Reads a Daraja YYYYMMDDHHmmss (string or number) as Nairobi time; undefined when it is not a real date. */
export function parseDarajaTimestamp(value: string | number): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(String(value));
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(y, mo - 1, d, h, mi, se) - NAIROBI_OFFSET_MS;
  // Date.UTC rolls 30 February over into March: a real date reads back the same.
  return darajaTimestamp(new Date(utc)) === m[0] ? new Date(utc) : undefined;
}
