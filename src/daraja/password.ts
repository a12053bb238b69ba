/**
 * Daraja's STK Password: Base64(BusinessShortCode + Passkey + Timestamp). The same timestamp must go in the body's
 * Timestamp field, or Daraja answers 500.001.1001 "Wrong credentials".
 */
export function stkPassword(shortcode: string, passkey: string, timestamp: string): string {
  return Buffer.from(`${shortcode}${passkey}${timestamp}`, 'utf8').toString('base64');
}
