import type { Result } from './result.js';

/**
 * Kenyan mobile numbers as customers type them: 07XXXXXXXX, 01XXXXXXXX, +2547…, 2547…, +2541…, 2541…,
 * with spaces or dashes, and the 9 digits without their leading 0 (712 345 678), as many type them after seeing +254. Daraja wants 2547XXXXXXXX / 2541XXXXXXXX and answers "Invalid PhoneNumber" to anything else,
 * so we refuse early with a message that says what to fix.
 */
export type NormalizedPhone = Result<string, string>;

const EXAMPLE = 'like 0712 345 678 or +254 712 345 678';

export const PHONE_MESSAGES = {
  empty: 'Enter the M-Pesa phone number that will pay.',
  letters: `A phone number has digits only, ${EXAMPLE}.`,
  characters: `Use only digits, spaces or dashes, ${EXAMPLE}.`,
  notKenyan: `This is not a Kenyan mobile number. Use a Safaricom number, ${EXAMPLE}.`,
  zeroAfter254: 'Leave out the 0 after 254: write +254 712 345 678, not +254 0712 345 678.',
  tooShort: `This number is too short: a Kenyan mobile number has 10 digits, ${EXAMPLE}.`,
  tooLong: `This number is too long: a Kenyan mobile number has 10 digits, ${EXAMPLE}.`,
} as const;

const fail = (message: string): NormalizedPhone => ({ ok: false, error: message });

/** Normalizes to 254XXXXXXXXX (`value`), or says in one sentence what is wrong with the input (`error`). */
export function normalizePhone(input: string): NormalizedPhone {
  const trimmed = (typeof input === 'string' ? input : '').trim();
  if (trimmed === '') return fail(PHONE_MESSAGES.empty);
  if (/\p{L}/u.test(trimmed)) return fail(PHONE_MESSAGES.letters);
  if (!/^\+?[\d\s-]*$/.test(trimmed)) return fail(PHONE_MESSAGES.characters);

  const hasPlus = trimmed.startsWith('+');
  const digits = trimmed.replace(/[\s+-]/g, '');
  if (digits === '') return fail(PHONE_MESSAGES.empty);

  let national: string; // the 9 digits after the country code
  if (digits.startsWith('254')) {
    national = digits.slice(3);
    if (national.startsWith('0')) return fail(PHONE_MESSAGES.zeroAfter254);
  } else if (!hasPlus && digits.startsWith('0')) {
    national = digits.slice(1);
  } else if (!hasPlus && digits.length === 9 && /^[71]/.test(digits)) {
    national = digits; // 712345678: the number without its 0
  } else {
    // +255…, 00254…, +0…: none of the forms above.
    return fail(PHONE_MESSAGES.notKenyan);
  }

  if (national === '') return fail(PHONE_MESSAGES.tooShort);
  // Kenyan mobile ranges start 7 (07xx) or 1 (010x, 011x); 020… and the like are landlines that M-Pesa cannot prompt.
  if (national[0] !== '7' && national[0] !== '1') return fail(PHONE_MESSAGES.notKenyan);
  if (national.length < 9) return fail(PHONE_MESSAGES.tooShort);
  if (national.length > 9) return fail(PHONE_MESSAGES.tooLong);
  return { ok: true, value: `254${national}` };
}

/** Hides the middle of a number for logs and pages: '254708374149' → '2547•••••149'. */
export function maskPhone(phone: string): string {
  const p = String(phone);
  if (p.length < 8) return '•'.repeat(p.length);
  return `${p.slice(0, 4)}${'•'.repeat(p.length - 7)}${p.slice(-3)}`;
}
