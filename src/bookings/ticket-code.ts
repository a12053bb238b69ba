import { randomBytes } from 'node:crypto';

/**
 * The code a Paid ticket carries: what the customer reads out, types into find-my-ticket, and what its QR code holds.
 * 8 characters from 32 that cannot be confused with each other when read aloud or off a cracked phone screen (no 0/O,
 * no 1/I): 40 random bits, unique by the database's unique index (see docs/adr/0028-ticket-codes.md).
 */
export const TICKET_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const TICKET_CODE_LENGTH = 8;

/** A fresh random code. 32 symbols: each random byte's low 5 bits pick one, so every symbol is equally likely. */
export function newTicketCode(): string {
  const bytes = randomBytes(TICKET_CODE_LENGTH);
  let code = '';
  for (const b of bytes) code += TICKET_CODE_ALPHABET[b & 31];
  return code;
}

/**
 * What a person typed, as a code: capitals, without spaces or dashes (`k7m2-q9xa` → `K7M2Q9XA`). Undefined when it
 * cannot be a code (wrong length, a character outside the alphabet), so a lookup is never made for it.
 */
export function normaliseTicketCode(typed: unknown): string | undefined {
  if (typeof typed !== 'string') return undefined;
  const code = typed.replace(/[\s-]+/g, '').toUpperCase();
  if (code.length !== TICKET_CODE_LENGTH) return undefined;
  for (const ch of code) if (!TICKET_CODE_ALPHABET.includes(ch)) return undefined;
  return code;
}
