import { randomBytes } from 'node:crypto';

/** A ticket's public reference: 18 random bytes in base64url, 24 characters, 144 bits. Never the row id. */
const REF_PATTERN = /^[A-Za-z0-9_-]{24}$/;

export function newTicketRef(): string {
  return randomBytes(18).toString('base64url');
}

export function isTicketRef(ref: string): boolean {
  return REF_PATTERN.test(ref);
}
