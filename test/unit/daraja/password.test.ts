import { describe, expect, it } from 'vitest';
import { SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from '../../../src/daraja/constants.js';
import { stkPassword } from '../../../src/daraja/password.js';

describe('stkPassword', () => {
  it('when given the sandbox shortcode, passkey and the timestamp of Safaricom\'s sample request, then it matches the sample Password', () => {
    // The sample request in Safaricom's M-Pesa Express documentation (Timestamp 20160216165627).
    expect(stkPassword(SANDBOX_SHORTCODE, SANDBOX_PASSKEY, '20160216165627')).toBe(
      'MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3',
    );
  });

  it('when decoded, then it is shortcode + passkey + timestamp with no separator', () => {
    const p = stkPassword('600000', 'abc', '20250514201201');
    expect(Buffer.from(p, 'base64').toString('utf8')).toBe('600000abc20250514201201');
  });

  it('when the timestamp differs by one second, then the password differs', () => {
    expect(stkPassword('174379', 'k', '20250514201201')).not.toBe(stkPassword('174379', 'k', '20250514201202'));
  });
});
