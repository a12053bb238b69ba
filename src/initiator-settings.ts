// A helper of src/config.ts for the refund settings (Daraja's initiator), kept apart to keep config.ts short. It reads
// no environment: config.ts hands it the values.
import { z } from 'zod';
import type { InitiatorConfig } from './daraja/initiator.js';
import { SIMULATOR_CERTIFICATE_PATH, SIMULATOR_INITIATOR } from './simulator/credential.js';

const blank = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optional = z.preprocess(blank, z.string().trim().optional());
const PER_SECOND = 'use a whole number from 1 to 1000';

/** The initiator's keys in config.ts's schema (all optional text; the rules between them are below). */
export const initiatorEnvSchema = {
  DARAJA_INITIATOR_NAME: optional,
  DARAJA_INITIATOR_PASSWORD: optional,
  DARAJA_CERTIFICATE_PATH: optional,
  DARAJA_SECURITY_CREDENTIAL: optional,
  REFUNDS_PER_SECOND: z.preprocess(blank, z.coerce.number({ error: PER_SECOND }).int({ error: PER_SECOND })
    .min(1, { error: PER_SECOND }).max(1000, { error: PER_SECOND }).default(5)),
};

export interface InitiatorEnv {
  DARAJA_INITIATOR_NAME?: string | undefined;
  DARAJA_INITIATOR_PASSWORD?: string | undefined;
  DARAJA_CERTIFICATE_PATH?: string | undefined;
  DARAJA_SECURITY_CREDENTIAL?: string | undefined;
}

/**
 * The initiator for Reversal and Transaction Status, or none (refunds then fail with a reason naming the settings).
 * In simulator mode all three have working defaults: the simulator's initiator and its own certificate. Elsewhere
 * a name with neither a ready credential nor a password and certificate is a start-up problem, and so is a password
 * without a certificate: refunds would fail one by one instead.
 */
export function initiatorSettings(
  e: InitiatorEnv, ctx: { isSimulator: boolean; publicBaseUrl: string; callbackToken: string }, problems: string[],
): InitiatorConfig | undefined {
  const urls = {
    resultUrl: `${ctx.publicBaseUrl}/api/payments/result/${ctx.callbackToken}`,
    queueTimeoutUrl: `${ctx.publicBaseUrl}/api/payments/timeout/${ctx.callbackToken}`,
  };
  const name = e.DARAJA_INITIATOR_NAME ?? (ctx.isSimulator ? SIMULATOR_INITIATOR.name : undefined);
  if (!name) {
    if (e.DARAJA_INITIATOR_PASSWORD || e.DARAJA_SECURITY_CREDENTIAL) {
      problems.push('DARAJA_INITIATOR_NAME is required with DARAJA_INITIATOR_PASSWORD or DARAJA_SECURITY_CREDENTIAL: the API operator\'s user name on the M-Pesa org portal.');
    }
    return undefined;
  }
  if (e.DARAJA_SECURITY_CREDENTIAL) return { name, securityCredential: e.DARAJA_SECURITY_CREDENTIAL, ...urls };
  const password = e.DARAJA_INITIATOR_PASSWORD ?? (ctx.isSimulator ? SIMULATOR_INITIATOR.password : undefined);
  const certificatePath = e.DARAJA_CERTIFICATE_PATH ?? (ctx.isSimulator ? SIMULATOR_CERTIFICATE_PATH : undefined);
  if (!password) {
    problems.push('DARAJA_INITIATOR_NAME is set without DARAJA_INITIATOR_PASSWORD or DARAJA_SECURITY_CREDENTIAL: set the initiator\'s password (with DARAJA_CERTIFICATE_PATH), or the ready credential from the Daraja portal.');
    return undefined;
  }
  if (!certificatePath) {
    problems.push('DARAJA_CERTIFICATE_PATH is required with DARAJA_INITIATOR_PASSWORD: download Safaricom\'s certificate for this environment from the Daraja portal and give its path.');
    return undefined;
  }
  return { name, password, certificatePath, ...urls };
}
