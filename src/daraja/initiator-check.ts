import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DarajaEnv } from './constants.js';
import { resolveSecurityCredential } from './initiator.js';
import type { DarajaConfig } from './types.js';

type Say = { ok: (l: string) => void; wrong: (l: string) => void; note: (l: string) => void };

/**
 * daraja:check's part about refunds: is an initiator configured, can its certificate be read, and can a
 * SecurityCredential be made with it. Said in plain words; never the password or the credential. Whether the
 * initiator holds the reversal role only Safaricom can tell, by the first reversal's result (docs/going-live.md).
 */
export function checkInitiator(c: DarajaConfig, env: DarajaEnv, { ok, wrong, note }: Say): void {
  const i = c.initiator;
  if (!i) {
    note('Refunds through M-Pesa are off: set DARAJA_INITIATOR_NAME and DARAJA_INITIATOR_PASSWORD with DARAJA_CERTIFICATE_PATH (or DARAJA_SECURITY_CREDENTIAL) to turn them on.');
    return;
  }
  if (i.securityCredential) {
    ok(`Refunds: initiator ${i.name} with a ready DARAJA_SECURITY_CREDENTIAL (it cannot be checked here; a wrong one fails the first reversal with 2001).`);
    return;
  }
  if (i.certificatePath) {
    try {
      const cert = new X509Certificate(readFileSync(i.certificatePath));
      const subject = cert.subject.replace(/\n/g, ', ');
      if (env !== 'simulator' && /simulator/i.test(subject)) {
        wrong(`DARAJA_CERTIFICATE_PATH ${i.certificatePath} is the simulator's certificate: with DARAJA_ENV=${env} use Safaricom's certificate for ${env} from the Daraja portal.`);
        return;
      }
      if (new Date(cert.validTo).getTime() < Date.now()) wrong(`The certificate at ${i.certificatePath} expired on ${cert.validTo}: download the current one from the Daraja portal.`);
      else ok(`Refunds: the certificate at ${i.certificatePath} is readable (${subject}).`);
    } catch (e) {
      const code = (e as { code?: string }).code;
      wrong(code === 'ENOENT' || code === 'EACCES'
        ? `DARAJA_CERTIFICATE_PATH ${i.certificatePath} cannot be read (${code}): check the path and the file's permissions.`
        : `DARAJA_CERTIFICATE_PATH ${i.certificatePath} is not an X.509 certificate in PEM form: download it again from the Daraja portal.`);
      return;
    }
  }
  const made = resolveSecurityCredential(i);
  if (made.ok) ok(`Refunds: a SecurityCredential for initiator ${i.name} can be made from DARAJA_INITIATOR_PASSWORD with that certificate.`);
  else wrong(`Refunds: ${made.error}.`);
}
