// Nairobi is UTC+3 all year (no daylight saving), so a fixed offset is exact and needs no tz database.
const NAIROBI_OFFSET_MS = 3 * 60 * 60 * 1000;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

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
  const s = String(value);
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(y, mo - 1, d, h, mi, se) - NAIROBI_OFFSET_MS;
  const back = new Date(utc + NAIROBI_OFFSET_MS);
  if (
    back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d ||
    back.getUTCHours() !== h || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== se
  ) return undefined;
  return new Date(utc);
}

/** ISO-8601 with the Nairobi offset, e.g. 2025-05-14T20:12:01+03:00 (the status JSON's transactionDate). */
export function toNairobiIso(at: Date): string {
  const n = new Date(at.getTime() + NAIROBI_OFFSET_MS);
  return (
    `${n.getUTCFullYear()}-${pad(n.getUTCMonth() + 1)}-${pad(n.getUTCDate())}` +
    `T${pad(n.getUTCHours())}:${pad(n.getUTCMinutes())}:${pad(n.getUTCSeconds())}+03:00`
  );
}

const displayFormat = new Intl.DateTimeFormat('en-KE', {
  timeZone: 'Africa/Nairobi',
  weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false,
});

/** A human date for pages, always in Africa/Nairobi: "Sat, 14 Jun 2025, 20:30". */
export function formatNairobi(at: Date): string {
  return displayFormat.format(at);
}
