import { constants, privateDecrypt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DarajaClient } from '../../../src/daraja/daraja.client.js';
import { DarajaError, DarajaInvalidRequestError } from '../../../src/daraja/errors.js';
import { makeSecurityCredential, parseInitiatorResult, resolveSecurityCredential } from '../../../src/daraja/initiator.js';
import { answers, config, postEndpoint, tokenEndpoint } from './helpers.js';

const REVERSAL = '/mpesa/reversal/v1/request';
const STATUS = '/mpesa/transactionstatus/v1/query';
const KEYS = fileURLToPath(new URL('../../../src/simulator/keys/', import.meta.url));
const CERT_PATH = `${KEYS}simulator-certificate.pem`;
const PRIVATE_KEY = readFileSync(`${KEYS}simulator-private-key.TEST-ONLY.pem`);
const PASSWORD = 'Initiator-Pa55word!';
const RESULT_URL = 'https://tikiti.example.com/api/payments/result/0f3c9a7e5b2d4c6a8e1f0b3d5c7a9e2f4b6d8c0a';
const TIMEOUT_URL = 'https://tikiti.example.com/api/payments/timeout/0f3c9a7e5b2d4c6a8e1f0b3d5c7a9e2f4b6d8c0a';

const initiator = (over: Record<string, unknown> = {}) => config({
  initiator: { name: 'testapi', password: PASSWORD, certificatePath: CERT_PATH, resultUrl: RESULT_URL, queueTimeoutUrl: TIMEOUT_URL, ...over },
});
const accepted = { OriginatorConversationID: '71840-27539181-07', ConversationID: 'AG_20210709_12346c8e6f8858d7b70a', ResponseCode: '0', ResponseDescription: 'Accept the service request successfully.' };
/** Decrypts with the simulator's private key and reads the PKCS#1 v1.5 block (00 02 random 00 message) by hand. */
const decrypt = (b64: string) => {
  const block = privateDecrypt({ key: PRIVATE_KEY, padding: constants.RSA_NO_PADDING }, Buffer.from(b64, 'base64'));
  expect([block[0], block[1]]).toEqual([0, 2]);
  return block.subarray(block.indexOf(0, 2) + 1).toString('utf8');
};

describe('Transaction Reversal and Transaction Status requests', () => {
  it('when a reversal is sent, then the body has exactly Daraja\'s fields and types (RecieverIdentifierType "11"), and the credential decrypts to the password', async () => {
    tokenEndpoint({ tokens: ['tok-rev'] });
    const ep = postEndpoint(REVERSAL, [[200, accepted]]);
    const ack = await new DarajaClient(initiator()).reversal({ transactionId: 'TEE2QR5JMI', amount: 45, remarks: 'Show cancelled' });

    expect(ack).toEqual({ conversationId: accepted.ConversationID, originatorConversationId: accepted.OriginatorConversationID, responseCode: '0', responseDescription: accepted.ResponseDescription });
    const sent = ep.seen[0]!;
    expect(sent.authorization).toBe('Bearer tok-rev');
    expect(sent.body).toStrictEqual({
      Initiator: 'testapi',
      SecurityCredential: expect.any(String),
      CommandID: 'TransactionReversal',
      TransactionID: 'TEE2QR5JMI',
      Amount: 45,
      ReceiverParty: 174379,
      RecieverIdentifierType: '11',
      ResultURL: RESULT_URL,
      QueueTimeOutURL: TIMEOUT_URL,
      Remarks: 'Show cancelled',
      Occasion: '',
    });
    expect(decrypt(sent.body.SecurityCredential as string)).toBe(PASSWORD);
  });

  it('when a status query is sent, then it carries TransactionStatusQuery, PartyA as a number and IdentifierType "4"', async () => {
    tokenEndpoint();
    const ep = postEndpoint(STATUS, [[200, accepted]]);
    await new DarajaClient(initiator()).transactionStatus('TEE2QR5JMI');
    expect(ep.seen[0]!.body).toStrictEqual({
      Initiator: 'testapi', SecurityCredential: expect.any(String), CommandID: 'TransactionStatusQuery', TransactionID: 'TEE2QR5JMI',
      PartyA: 174379, IdentifierType: '4', ResultURL: RESULT_URL, QueueTimeOutURL: TIMEOUT_URL, Remarks: 'Refund status', Occasion: '',
    });
    expect(decrypt(ep.seen[0]!.body.SecurityCredential as string)).toBe(PASSWORD);
  });

  it('when a ready DARAJA_SECURITY_CREDENTIAL is given, then it is sent as it is', async () => {
    tokenEndpoint();
    const ep = postEndpoint(REVERSAL, [[200, accepted]]);
    await new DarajaClient(initiator({ password: undefined, certificatePath: undefined, securityCredential: 'READY+CRED==' })).reversal({ transactionId: 'TEE2QR5JMI', amount: 1 });
    expect(ep.seen[0]!.body.SecurityCredential).toBe('READY+CRED==');
  });

  it('when the access token is refused, then the reversal is sent once more with a new token, and only then', async () => {
    const token = tokenEndpoint({ tokens: ['old', 'new'] });
    const ep = postEndpoint(REVERSAL, [[404, answers.error('404.001.03', 'Invalid Access Token')], [200, accepted]]);
    await new DarajaClient(initiator()).reversal({ transactionId: 'TEE2QR5JMI', amount: 45 });
    expect(token.seen.calls).toBe(2);
    expect(ep.seen.map((s) => s.authorization)).toEqual(['Bearer old', 'Bearer new']);
  });

  it('when Daraja refuses the reversal, then a typed refused error says so; spike arrest is DARAJA_BUSY; a 5xx without envelope is unknown', async () => {
    tokenEndpoint();
    postEndpoint(REVERSAL, [
      [400, answers.error('400.002.02', 'Bad Request - Invalid TransactionID')],
      [500, answers.error('500.003.02', 'Spike Arrest Violation')],
      [502, '<html>bad gateway</html>'],
    ]);
    const client = new DarajaClient(initiator());
    const req = { transactionId: 'TEE2QR5JMI', amount: 45 };
    const e1 = await client.reversal(req).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(DarajaInvalidRequestError);
    expect((e1 as DarajaError).outcome).toBe('refused');
    const e2 = await client.reversal(req).catch((e: unknown) => e);
    expect((e2 as DarajaError).code).toBe('DARAJA_BUSY');
    const e3 = await client.reversal(req).catch((e: unknown) => e);
    expect((e3 as DarajaError).outcome).toBe('unknown');
  });

  it('when no initiator or no readable certificate is configured, then nothing is sent and the error names the setting to fix, never the password', async () => {
    const ep = postEndpoint(REVERSAL, [[200, accepted]]);
    const none = await new DarajaClient(config()).reversal({ transactionId: 'TEE2QR5JMI', amount: 45 }).catch((e: unknown) => e);
    expect((none as Error).message).toContain('DARAJA_INITIATOR_NAME');
    const missing = await new DarajaClient(initiator({ certificatePath: '/nowhere/cert.cer' })).reversal({ transactionId: 'TEE2QR5JMI', amount: 45 }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(DarajaInvalidRequestError);
    expect((missing as Error).message).toMatch(/DARAJA_CERTIFICATE_PATH \/nowhere\/cert.cer cannot be read/);
    expect((missing as Error).message).not.toContain(PASSWORD);
    expect(ep.seen).toHaveLength(0);
  });

  it('when the certificate is not one, then the credential cannot be made and the reason says to download it again', () => {
    const r = resolveSecurityCredential({ name: 'x', password: PASSWORD, certificatePem: 'not a certificate' });
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/not an X\.509 PEM certificate/) });
    // RSA PKCS#1 v1.5 is randomised: two credentials differ, both decrypt to the password.
    const a = makeSecurityCredential(PASSWORD, readFileSync(CERT_PATH));
    const b = makeSecurityCredential(PASSWORD, readFileSync(CERT_PATH));
    expect(a).not.toBe(b);
    expect([decrypt(a), decrypt(b)]).toEqual([PASSWORD, PASSWORD]);
  });

  it('when a result arrives with codes as strings or numbers and one parameter, then it is read the same', () => {
    const r = parseInitiatorResult({ Result: { ResultType: 0, ResultCode: '0', ResultDesc: 'ok', OriginatorConversationID: 'o', ConversationID: 'c', TransactionID: 'RV1',
      ResultParameters: { ResultParameter: { Key: 'Amount', Value: 45 } } } });
    expect(r).toMatchObject({ resultCode: '0', conversationId: 'c', originatorConversationId: 'o', transactionId: 'RV1', parameters: { Amount: 45 } });
    expect(parseInitiatorResult({ Body: {} })).toBeUndefined();
  });
});
