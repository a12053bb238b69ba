import { constants, privateDecrypt, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The simulator's own key pair (src/simulator/keys, TEST ONLY, published on purpose): Daraja decrypts an initiator's
 * SecurityCredential with Safaricom's private key; the simulator does the same with this one.
 */
const KEYS_DIR = fileURLToPath(new URL('./keys/', import.meta.url));
export const SIMULATOR_CERTIFICATE_PATH = `${KEYS_DIR}simulator-certificate.pem`;
const PRIVATE_KEY_PATH = `${KEYS_DIR}simulator-private-key.TEST-ONLY.pem`;

let privateKey: string | undefined;
export function simulatorCertificate(): string {
  return readFileSync(SIMULATOR_CERTIFICATE_PATH, 'utf8');
}

/**
 * The password inside a SecurityCredential (base64 of RSA PKCS#1 v1.5), or undefined when it is not one made with the
 * simulator's certificate. Node no longer decrypts PKCS#1 v1.5 itself (a timing attack on servers that answer
 * decryption errors), so the block is decrypted raw and its padding read here: 00 02, eight or more non-zero bytes,
 * 00, the message. A simulator with a published key has nothing to protect.
 */
export function decryptCredential(credential: unknown, key: KeyObject | string = (privateKey ??= readFileSync(PRIVATE_KEY_PATH, 'utf8'))): string | undefined {
  if (typeof credential !== 'string' || !/^[A-Za-z0-9+/=\s]+$/.test(credential)) return undefined;
  let block: Buffer;
  try {
    block = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, Buffer.from(credential, 'base64'));
  } catch {
    return undefined;
  }
  if (block[0] !== 0x00 || block[1] !== 0x02) return undefined;
  const end = block.indexOf(0x00, 2);
  if (end < 10) return undefined;
  return block.subarray(end + 1).toString('utf8');
}

/** The initiator the simulator knows, and the app's defaults in simulator mode (Daraja's sandbox calls its "testapi"). */
export const SIMULATOR_INITIATOR = { name: 'testapi', password: 'Sim-Initiator-Pass-1' } as const;
