import { X509Certificate, constants, publicEncrypt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { answerError, type HttpAnswer } from './answers.js';
import { DarajaInvalidRequestError, type DarajaOperation } from './errors.js';
import type { Result } from './result.js';
import type { InitiatorConfig } from './types.js';

/**
 * The calls made as the organisation's API operator (the "initiator"): Transaction Reversal and Transaction Status.
 * Both carry a SecurityCredential, the initiator's password encrypted with Safaricom's public certificate, and both
 * answer twice: at once with an acknowledgement (ConversationID), later with the result on ResultURL.
 */

export type { InitiatorConfig } from './types.js';

export interface ReversalRequest {
  /** The M-Pesa receipt of the payment to reverse. */
  transactionId: string;
  /** Whole shillings: the amount paid. */
  amount: number;
  /** Up to 100 characters. */
  remarks?: string;
  occasion?: string;
}

/** Daraja's acknowledgement of a reversal or a status query: an id to match the result by, never a result. */
export interface InitiatorAccepted {
  conversationId: string;
  originatorConversationId: string;
  responseCode: string;
  responseDescription: string;
}

/** A result posted to ResultURL (or QueueTimeOutURL), read leniently: codes as numbers or strings. */
export interface InitiatorResult {
  resultType: string | undefined;
  resultCode: string;
  resultDesc: string;
  conversationId: string | undefined;
  originatorConversationId: string | undefined;
  transactionId: string | undefined;
  /** ResultParameters.ResultParameter as a map; values kept as sent. */
  parameters: Record<string, string | number | undefined>;
}

/** Daraja's spelling, on purpose: "Reciever". 11 is the organisation-shortcode identifier for a reversal. */
export const RECEIVER_IDENTIFIER_TYPE = '11';
/** The shortcode identifier for a Transaction Status query. */
export const STATUS_IDENTIFIER_TYPE = '4';
export const MAX_REMARKS = 100;

/** base64(RSA-encrypt(password)) with PKCS#1 v1.5 padding under the certificate's public key, as Daraja expects. */
export function makeSecurityCredential(password: string, certificatePem: string | Buffer): string {
  const cert = new X509Certificate(certificatePem);
  return publicEncrypt({ key: cert.publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(password, 'utf8')).toString('base64');
}

/** The credential to send, or what is wrong with the configuration in plain words (never the password). */
export function resolveSecurityCredential(cfg: Omit<InitiatorConfig, 'resultUrl' | 'queueTimeoutUrl'>): Result<string, string> {
  if (cfg.securityCredential) return { ok: true, value: cfg.securityCredential };
  if (!cfg.password) {
    return { ok: false, error: 'no SecurityCredential: set DARAJA_SECURITY_CREDENTIAL, or DARAJA_INITIATOR_PASSWORD with DARAJA_CERTIFICATE_PATH' };
  }
  let pem: string | Buffer | undefined = cfg.certificatePem;
  if (pem === undefined) {
    if (!cfg.certificatePath) return { ok: false, error: 'DARAJA_CERTIFICATE_PATH is not set: download Safaricom\'s certificate for this environment from the Daraja portal and point it at the file' };
    try {
      pem = readFileSync(cfg.certificatePath);
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'unreadable';
      return { ok: false, error: `DARAJA_CERTIFICATE_PATH ${cfg.certificatePath} cannot be read (${code}): check the path and the file's permissions` };
    }
  }
  try {
    return { ok: true, value: makeSecurityCredential(cfg.password, pem) };
  } catch {
    return { ok: false, error: `the certificate${cfg.certificatePath ? ` at ${cfg.certificatePath}` : ''} is not an X.509 PEM certificate with an RSA key: download it again from the Daraja portal (the .cer file, in PEM form)` };
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;

function invalid(operation: DarajaOperation, field: string, why: string): DarajaInvalidRequestError {
  return new DarajaInvalidRequestError(`Invalid ${field}: ${why}; the request was not sent`, { operation, field, errorMessage: `Invalid ${field}: ${why}` });
}

function checkUrls(operation: DarajaOperation, cfg: InitiatorConfig): void {
  for (const [field, url] of [['ResultURL', cfg.resultUrl], ['QueueTimeOutURL', cfg.queueTimeoutUrl]] as const) {
    if (!/^https?:\/\/\S+$/.test(url)) throw invalid(operation, field, 'must be an http(s) URL without spaces');
  }
  if (cfg.name.trim() === '') throw invalid(operation, 'Initiator', 'DARAJA_INITIATOR_NAME is empty');
}

const remarksOf = (s: string | undefined, fallback: string) => (s && s.trim() !== '' ? s.trim() : fallback).slice(0, MAX_REMARKS);

/** The reversal body, fields and types as Daraja's parameter table has them (all strings but Amount and ReceiverParty). */
export function reversalBody(cfg: InitiatorConfig, shortcode: string, credential: string, req: ReversalRequest) {
  const op: DarajaOperation = 'reversal';
  checkUrls(op, cfg);
  if (typeof req.transactionId !== 'string' || !/^[A-Z0-9]{6,20}$/i.test(req.transactionId)) throw invalid(op, 'TransactionID', 'must be the M-Pesa receipt of the payment');
  if (!Number.isInteger(req.amount) || req.amount < 1) throw invalid(op, 'Amount', 'must be a whole number of shillings, at least 1');
  if (!/^\d{5,7}$/.test(shortcode)) throw invalid(op, 'ReceiverParty', 'must be the 5 to 7 digit shortcode');
  return {
    Initiator: cfg.name,
    SecurityCredential: credential,
    CommandID: 'TransactionReversal',
    TransactionID: req.transactionId,
    Amount: req.amount,
    ReceiverParty: Number(shortcode),
    RecieverIdentifierType: RECEIVER_IDENTIFIER_TYPE,
    ResultURL: cfg.resultUrl,
    QueueTimeOutURL: cfg.queueTimeoutUrl,
    Remarks: remarksOf(req.remarks, 'Refund'),
    Occasion: (req.occasion ?? '').slice(0, MAX_REMARKS),
  };
}

/** The Transaction Status body: asks what became of a transaction (here, whether a payment was reversed). */
export function transactionStatusBody(cfg: InitiatorConfig, shortcode: string, credential: string, transactionId: string, remarks?: string) {
  const op: DarajaOperation = 'transactionstatus';
  checkUrls(op, cfg);
  if (typeof transactionId !== 'string' || !/^[A-Z0-9]{6,20}$/i.test(transactionId)) throw invalid(op, 'TransactionID', 'must be an M-Pesa receipt');
  if (!/^\d{5,7}$/.test(shortcode)) throw invalid(op, 'PartyA', 'must be the 5 to 7 digit shortcode');
  return {
    Initiator: cfg.name,
    SecurityCredential: credential,
    CommandID: 'TransactionStatusQuery',
    TransactionID: transactionId,
    PartyA: Number(shortcode),
    IdentifierType: STATUS_IDENTIFIER_TYPE,
    ResultURL: cfg.resultUrl,
    QueueTimeOutURL: cfg.queueTimeoutUrl,
    Remarks: remarksOf(remarks, 'Refund status'),
    Occasion: '',
  };
}

/** Daraja's acknowledgement, or the typed error for whatever else came back. */
export function readInitiatorAnswer(operation: DarajaOperation, answer: HttpAnswer): InitiatorAccepted {
  const j = answer.json;
  if (answer.status >= 200 && answer.status < 300 && isRecord(j) && typeof j.errorCode !== 'string') {
    const conversationId = str(j.ConversationID);
    const originatorConversationId = str(j.OriginatorConversationID);
    const responseCode = str(j.ResponseCode)?.trim() ?? '0';
    if (conversationId && originatorConversationId && responseCode === '0') {
      return { conversationId, originatorConversationId, responseCode, responseDescription: str(j.ResponseDescription) ?? '' };
    }
  }
  throw answerError(operation, answer);
}

/** A body posted to ResultURL or QueueTimeOutURL, or undefined when it is not one. */
export function parseInitiatorResult(body: unknown): InitiatorResult | undefined {
  if (!isRecord(body) || !isRecord(body.Result)) return undefined;
  const r = body.Result;
  const resultCode = str(r.ResultCode)?.trim();
  if (resultCode === undefined || resultCode === '') return undefined;
  const parameters: Record<string, string | number | undefined> = {};
  const list = isRecord(r.ResultParameters) ? r.ResultParameters.ResultParameter : undefined;
  for (const p of Array.isArray(list) ? list : isRecord(list) ? [list] : []) {
    if (isRecord(p) && typeof p.Key === 'string') parameters[p.Key] = typeof p.Value === 'number' || typeof p.Value === 'string' ? p.Value : undefined;
  }
  return {
    resultType: str(r.ResultType),
    resultCode,
    resultDesc: str(r.ResultDesc) ?? '',
    conversationId: str(r.ConversationID),
    originatorConversationId: str(r.OriginatorConversationID),
    transactionId: str(r.TransactionID),
    parameters,
  };
}

/**
 * What an operator should do about a failed reversal, in plain words, from Daraja's ResultCode and ResultDesc. The codes
 * are those seen in the field (Safaricom publishes no table for reversals); anything else shows Daraja's own words.
 */
export function explainInitiatorFailure(resultCode: string, resultDesc: string): string {
  const said = resultDesc.trim() || `ResultCode ${resultCode}`;
  if (resultCode === '2001' || /initiator information is invalid|invalid initiator|credential/i.test(resultDesc)) {
    return `${said} — M-Pesa refused the initiator: check DARAJA_INITIATOR_NAME and DARAJA_INITIATOR_PASSWORD (or DARAJA_SECURITY_CREDENTIAL), and that DARAJA_CERTIFICATE_PATH is the certificate of this environment; npm run daraja:check tests them.`;
  }
  if (resultCode === '8006' || /locked/i.test(resultDesc)) {
    return `${said} — the initiator's credential is locked: unlock or reset the API operator on the M-Pesa org portal, then retry.`;
  }
  if (/not (?:permitted|allowed)|permission|role|authori[sz]/i.test(resultDesc) || resultCode === '21') {
    return `${said} — the initiator may not reverse payments: ask Safaricom to give the API operator the reversal role on this shortcode (docs/going-live.md).`;
  }
  if (resultCode === 'R000002' || /OriginalTransactionID is invalid/i.test(resultDesc)) {
    return `${said} — M-Pesa does not know this receipt on this shortcode (or it was reversed already): check the payment on the M-Pesa statement.`;
  }
  if (resultCode === '1' || /insufficient/i.test(resultDesc)) {
    return `${said} — the shortcode's account has too little to reverse from: top it up, then retry.`;
  }
  return said;
}
