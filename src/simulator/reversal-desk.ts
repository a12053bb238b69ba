import { randomBytes } from 'node:crypto';
import type { CallbackRetry } from './callback-sender.js';
import { deliverCallback } from './callback-sender.js';
import { decryptCredential } from './credential.js';
import { FAILURES, darajaRequestId, errorAnswer, invalidField, type DarajaAnswer, type DarajaFailure } from './daraja-answers.js';
import { maskPhone, type SimulatorLogger } from './daraja-protocol.js';
import { receiptNumber } from './prompt-callbacks.js';
import type { SimulatorPrompt } from './simulator.state.js';
import { REVERSAL_TEST_NUMBERS } from './test-numbers.js';

export { REVERSAL_TEST_NUMBERS };


const REFUSED: DarajaFailure = { status: 500, errorCode: '500.001.1001', errorMessage: 'The transaction cannot be reversed at this time' };
const FAILED = { code: '1', desc: 'The balance of the organisation account is insufficient to reverse this transaction.' };
const ACCEPTED = 'Accept the service request successfully.';

/** One reversal the simulator made: shown on the phone page ("KES N reversed") and answered by Transaction Status. */
export interface SimulatorReversal {
  receipt: string;
  reversalId: string;
  phoneNumber: string;
  amount: number;
  at: Date;
}

export interface ReversalDeskDeps {
  /** The finished, paid prompt with this receipt, if the simulator issued it. */
  findPaid(receipt: string): SimulatorPrompt | undefined;
  initiator: { name: string; password: string };
  /** Origins results may be posted to (as for callbacks); any when unset. */
  callbackOrigins?: readonly string[];
  delayMs: number;
  callbackRetry: CallbackRetry;
  logger: SimulatorLogger;
  now: () => Date;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown) => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');

/**
 * Daraja's Transaction Reversal and Transaction Status, as the simulator answers them: the request's checks at once
 * (fields, a known origin for ResultURL, spike arrest when told to), then the result posted to ResultURL after
 * `delayMs`, with Daraja's later checks (the initiator and its credential, decrypted with the simulator's own key; a
 * receipt and amount of a payment it took; not reversed already). Reversals are kept in memory only.
 */
export class ReversalDesk {
  private readonly reversed = new Map<string, SimulatorReversal>();
  private readonly shutdown = new AbortController();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Reversal requests that passed the checks made at once, per receipt: a client that sends twice shows here. */
  private readonly asked = new Map<string, number>();
  private spikeEvery = 0;
  private seen = 0;

  constructor(private readonly deps: ReversalDeskDeps) {}

  /** From now on every `every`-th reversal or status request is refused with spike arrest (0: never). */
  setSpikeArrest(every: number): void {
    this.spikeEvery = Number.isInteger(every) && every > 0 ? every : 0;
    this.seen = 0;
  }

  /** How many reversal requests of this receipt were taken (spike-arrest refusals and bad requests not counted). */
  requestsFor(receipt: string): number {
    return this.asked.get(receipt) ?? 0;
  }

  reversals(): SimulatorReversal[] {
    return [...this.reversed.values()].sort((a, b) => b.at.getTime() - a.at.getTime());
  }

  reversal(body: unknown): DarajaAnswer {
    const checked = this.check(body, 'TransactionReversal', ['Amount', 'ReceiverParty', 'RecieverIdentifierType']);
    if ('status' in checked) return errorAnswer(checked);
    this.asked.set(checked.transactionId, (this.asked.get(checked.transactionId) ?? 0) + 1);
    const payer = this.deps.findPaid(checked.transactionId)?.phoneNumber;
    if (payer && REVERSAL_TEST_NUMBERS.get(payer)?.outcome === 'refuse') return errorAnswer(REFUSED);
    const ids = newIds();
    this.later(() => this.finishReversal(checked, ids));
    return { status: 200, body: { OriginatorConversationID: ids.originator, ConversationID: ids.conversation, ResponseCode: '0', ResponseDescription: ACCEPTED } };
  }

  transactionStatus(body: unknown): DarajaAnswer {
    const checked = this.check(body, 'TransactionStatusQuery', ['PartyA', 'IdentifierType']);
    if ('status' in checked) return errorAnswer(checked);
    const ids = newIds();
    this.later(() => this.finishStatus(checked, ids));
    return { status: 200, body: { OriginatorConversationID: ids.originator, ConversationID: ids.conversation, ResponseCode: '0', ResponseDescription: ACCEPTED } };
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.shutdown.abort();
    await Promise.allSettled([...this.pending]);
  }

  private check(body: unknown, commandId: string, more: string[]): Checked | DarajaFailure {
    if (!isRecord(body)) return FAILURES.invalidPayload;
    for (const f of ['Initiator', 'SecurityCredential', 'CommandID', 'TransactionID', ...more, 'ResultURL', 'QueueTimeOutURL', 'Remarks']) {
      if (text(body[f]) === '') return invalidField(f);
    }
    if (body.CommandID !== commandId) return invalidField('CommandID');
    const amount = Number(body.Amount);
    if (commandId === 'TransactionReversal' && !(Number.isInteger(amount) && amount >= 1)) return invalidField('Amount');
    for (const f of ['ResultURL', 'QueueTimeOutURL']) {
      let origin: string;
      try { origin = new URL(text(body[f])).origin; } catch { return invalidField(f); }
      if (this.deps.callbackOrigins && !this.deps.callbackOrigins.includes(origin)) return invalidField(f);
    }
    if (this.spikeEvery > 0 && ++this.seen % this.spikeEvery === 0) return FAILURES.spikeArrest;
    return {
      initiator: text(body.Initiator), credential: body.SecurityCredential, transactionId: text(body.TransactionID), amount,
      resultUrl: text(body.ResultURL),
    };
  }

  /** Daraja's later checks, then the reversal and its result (none for 254700000013). */
  private async finishReversal(c: Checked, ids: Ids): Promise<void> {
    const prompt = this.deps.findPaid(c.transactionId);
    const refusal = this.initiatorRefusal(c)
      ?? (!prompt ? { code: 'R000002', desc: 'The OriginalTransactionID is invalid.' }
        : this.reversed.has(c.transactionId) ? { code: 'R000002', desc: 'The OriginalTransactionID is invalid: the transaction has already been reversed.' }
          : prompt.amount !== c.amount ? { code: 'R000001', desc: `The amount ${c.amount} does not match the original transaction.` }
            : REVERSAL_TEST_NUMBERS.get(prompt.phoneNumber)?.outcome === 'fail' ? FAILED : undefined);
    if (refusal || !prompt) {
      await this.post(c.resultUrl, result(ids, refusal ?? { code: 'R000002', desc: 'The OriginalTransactionID is invalid.' }, undefined, []));
      return;
    }
    const reversal: SimulatorReversal = { receipt: c.transactionId, reversalId: receiptNumber(), phoneNumber: prompt.phoneNumber, amount: prompt.amount, at: this.deps.now() };
    this.reversed.set(c.transactionId, reversal);
    this.deps.logger.info({ receipt: c.transactionId, phone: maskPhone(prompt.phoneNumber), amount: prompt.amount }, 'simulator: payment reversed');
    if (REVERSAL_TEST_NUMBERS.get(prompt.phoneNumber)?.outcome === 'silent') return;
    await this.post(c.resultUrl, result(ids, { code: '0', desc: 'The service request is processed successfully.' }, reversal.reversalId, [
      { Key: 'Amount', Value: prompt.amount },
      { Key: 'OriginalTransactionID', Value: c.transactionId },
      { Key: 'CreditPartyPublicName', Value: `${prompt.phoneNumber} - M-PESA CUSTOMER` },
      { Key: 'DebitPartyPublicName', Value: `${prompt.businessShortCode} - TIKITI` },
      { Key: 'TransCompletedTime', Value: Number(formatCompact(reversal.at)) },
    ]));
  }

  private async finishStatus(c: Checked, ids: Ids): Promise<void> {
    const prompt = this.deps.findPaid(c.transactionId);
    const refusal = this.initiatorRefusal(c) ?? (!prompt ? { code: '2032', desc: 'The transaction receipt number does not exist.' } : undefined);
    if (refusal || !prompt) {
      await this.post(c.resultUrl, result(ids, refusal ?? { code: '2032', desc: 'The transaction receipt number does not exist.' }, undefined, []));
      return;
    }
    const reversal = this.reversed.get(c.transactionId);
    await this.post(c.resultUrl, result(ids, { code: '0', desc: 'The service request is processed successfully.' }, c.transactionId, [
      { Key: 'ReceiptNo', Value: c.transactionId },
      { Key: 'Amount', Value: prompt.amount },
      { Key: 'TransactionStatus', Value: reversal ? 'Reversed' : 'Completed' },
      { Key: 'ReasonType', Value: reversal ? 'Reversal' : 'Pay Bill Online' },
      { Key: 'DebitPartyName', Value: `${prompt.phoneNumber} - M-PESA CUSTOMER` },
    ]));
  }

  private initiatorRefusal(c: Checked): { code: string; desc: string } | undefined {
    const password = decryptCredential(c.credential);
    if (c.initiator !== this.deps.initiator.name || password !== this.deps.initiator.password) {
      this.deps.logger.warn({ initiator: c.initiator, credentialReadable: password !== undefined },
        'simulator: initiator refused (wrong name, or a credential not made from its password with GET /simulator/certificate)');
      return { code: '2001', desc: 'The initiator information is invalid.' };
    }
    return undefined;
  }

  private later(fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      const p = fn().catch((err: unknown) => this.deps.logger.error({ err }, 'simulator: reversal result failed'));
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    }, this.deps.delayMs);
    this.timers.add(t);
  }

  private async post(url: string, body: unknown): Promise<void> {
    const d = await deliverCallback(url, body, this.deps.callbackRetry, this.shutdown.signal);
    if (!d.delivered) this.deps.logger.warn({ attempts: d.attempts, lastError: d.lastError }, 'simulator: reversal result not delivered');
  }
}

interface Checked { initiator: string; credential: unknown; transactionId: string; amount: number; resultUrl: string }
interface Ids { originator: string; conversation: string }

function newIds(): Ids {
  return { originator: darajaRequestId(), conversation: `AG_${formatCompact(new Date()).slice(0, 8)}_${randomBytes(10).toString('hex')}` };
}

function result(ids: Ids, r: { code: string; desc: string }, transactionId: string | undefined, params: Array<{ Key: string; Value: unknown }>) {
  return {
    Result: {
      ResultType: 0,
      ResultCode: /^\d+$/.test(r.code) ? Number(r.code) : r.code,
      ResultDesc: r.desc,
      OriginatorConversationID: ids.originator,
      ConversationID: ids.conversation,
      TransactionID: transactionId ?? receiptNumber(),
      ...(params.length ? { ResultParameters: { ResultParameter: params } } : {}),
      ReferenceData: { ReferenceItem: { Key: 'QueueTimeoutURL', Value: 'https://internalsandbox.safaricom.co.ke/mpesa/reversalresults/v1/submit' } },
    },
  };
}

/** YYYYMMDDHHmmss on the Nairobi clock (UTC+3, no daylight saving). */
function formatCompact(d: Date): string {
  return new Date(d.getTime() + 3 * 3600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}
