import { z } from 'zod';
import type { Result } from './result.js';
import { parseDarajaTimestamp } from './timestamp.js';

/**
 * The STK callback Safaricom posts to the CallBackURL. Shared with the callback route. Lenient where Daraja is known
 * to vary (ResultCode as number or string, SFC_IC0003 included; metadata items without Value; numbers as strings),
 * strict on what identifies the payment (MerchantRequestID, CheckoutRequestID, ResultCode).
 */
export type StkCallback = {
  merchantRequestId: string;
  checkoutRequestId: string;
  /** '0', '1032', 'SFC_IC0003': numbers normalised to strings. */
  resultCode: string;
  resultDesc: string;
  succeeded: boolean;
  amount?: number;
  mpesaReceiptNumber?: string;
  /** TransactionDate read as Nairobi wall-clock time; absent when missing or not a real date. */
  transactionDate?: Date;
  phoneNumber?: string;
  balance?: number;
};

const resultCode = z
  .union([z.number().int(), z.string().trim().min(1)])
  .transform((v) => String(v));

const metadataItem = z.object({
  Name: z.string(),
  Value: z.union([z.string(), z.number()]).nullish(),
});

/** The raw shape; exported for the route's tests and for documentation. */
export const stkCallbackBodySchema = z.object({
  Body: z.object({
    stkCallback: z.object({
      MerchantRequestID: z.string().trim().min(1),
      CheckoutRequestID: z.string().trim().min(1),
      ResultCode: resultCode,
      ResultDesc: z.string().optional(),
      CallbackMetadata: z
        .object({ Item: z.union([z.array(z.unknown()), z.unknown()]).optional() })
        .nullish(),
    }),
  }),
});

function toNumber(v: string | number | null | undefined): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function toText(v: string | number | null | undefined): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  return undefined;
}

/** Reads a callback body (already JSON-parsed); never throws. */
export function parseStkCallback(body: unknown): Result<StkCallback, string> {
  const parsed = stkCallbackBodySchema.safeParse(body);
  if (!parsed.success) {
    const first = parsed.error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
    return { ok: false, error: `not an STK callback: ${first.join('; ')}` };
  }
  const cb = parsed.data.Body.stkCallback;
  const value: StkCallback = {
    merchantRequestId: cb.MerchantRequestID,
    checkoutRequestId: cb.CheckoutRequestID,
    resultCode: cb.ResultCode,
    resultDesc: cb.ResultDesc ?? '',
    succeeded: cb.ResultCode === '0',
  };

  // Items that do not look like {Name, Value} are skipped rather than failing the callback: on a success callback
  // the money has already moved, and refusing it would lose the payment.
  const rawItems = cb.CallbackMetadata?.Item;
  const items = Array.isArray(rawItems) ? rawItems : rawItems === undefined ? [] : [rawItems];
  for (const raw of items) {
    const item = metadataItem.safeParse(raw);
    if (!item.success) continue;
    const v = item.data.Value;
    switch (item.data.Name) {
      case 'Amount': value.amount = toNumber(v); break;
      case 'MpesaReceiptNumber': value.mpesaReceiptNumber = toText(v); break;
      case 'Balance': value.balance = toNumber(v); break;
      case 'PhoneNumber': value.phoneNumber = toText(v); break;
      case 'TransactionDate': {
        const t = toText(v);
        value.transactionDate = t === undefined ? undefined : parseDarajaTimestamp(t);
        break;
      }
    }
  }
  for (const k of Object.keys(value) as (keyof StkCallback)[]) if (value[k] === undefined) delete value[k];
  return { ok: true, value };
}
