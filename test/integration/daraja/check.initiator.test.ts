import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDarajaCheck } from '../../../src/daraja/check.js';
import type { DarajaConfig } from '../../../src/daraja/daraja.client.js';
import { FROZEN_NOW, config, tokenEndpoint } from './helpers.js';

const CERT = fileURLToPath(new URL('../../../src/simulator/keys/simulator-certificate.pem', import.meta.url));
const PASSWORD = 'Never-In-Output-42';
const urls = { resultUrl: 'https://x.example/api/payments/result/t', queueTimeoutUrl: 'https://x.example/api/payments/timeout/t' };

async function check(cfg: DarajaConfig, darajaEnv: 'sandbox' | 'simulator' = 'sandbox') {
  tokenEndpoint();
  const lines: string[] = [];
  const ok = await runDarajaCheck(cfg, { darajaEnv, out: (l) => lines.push(l), now: () => new Date(FROZEN_NOW) });
  return { ok, text: lines.join('\n') };
}

describe('daraja:check and the initiator for refunds', () => {
  it('when no initiator is configured, then it notes that refunds are off and which settings turn them on', async () => {
    const r = await check(config());
    expect(r.ok).toBe(true);
    expect(r.text).toMatch(/note .*Refunds through M-Pesa are off: set DARAJA_INITIATOR_NAME/);
  });

  it('when the certificate path cannot be read, then it is wrong and names the path, never the password', async () => {
    const r = await check(config({ initiator: { name: 'api-op', password: PASSWORD, certificatePath: '/nowhere/prod.cer', ...urls } }));
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/WRONG .*DARAJA_CERTIFICATE_PATH \/nowhere\/prod\.cer cannot be read \(ENOENT\)/);
    expect(r.text).not.toContain(PASSWORD);
  });

  it('when the sandbox is pointed at the simulator\'s certificate, then it says to use Safaricom\'s', async () => {
    const r = await check(config({ initiator: { name: 'api-op', password: PASSWORD, certificatePath: CERT, ...urls } }));
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/WRONG .*is the simulator's certificate: with DARAJA_ENV=sandbox use Safaricom's certificate/);
  });

  it('when the certificate is readable and the credential can be made, then both are ok', async () => {
    const r = await check(config({ initiator: { name: 'testapi', password: PASSWORD, certificatePath: CERT, ...urls } }), 'simulator');
    expect(r.text).toMatch(/ok .*the certificate at .* is readable/);
    expect(r.text).toMatch(/ok .*a SecurityCredential for initiator testapi can be made/);
    expect(r.text).not.toContain(PASSWORD);
  });
});
