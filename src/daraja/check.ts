import type { DarajaLogger } from './logger.js';
import {
  FORBIDDEN_URL_WORDS, MAX_ACCOUNT_REFERENCE, MAX_TRANSACTION_DESC, PRODUCTION_BASE_URL, SANDBOX_BASE_URL, SANDBOX_PASSKEY,
  SANDBOX_SHORTCODE, forbiddenWordsIn, type DarajaEnv,
} from './constants.js';
import { DarajaClient, type DarajaConfig } from './daraja.client.js';
import { DarajaAuthError, DarajaBusyError, DarajaError, DarajaInvalidRequestError, DarajaNetworkError, DarajaSubscriberBusyError } from './errors.js';
import { maskPhone, normalizePhone } from './phone.js';
import { checkInitiator } from './initiator-check.js';

export interface DarajaCheckOptions {
  darajaEnv: DarajaEnv;
  /** Send a KES 1 push to this phone after the token check. */
  push?: string;
  out: (line: string) => void;
  /**
   * The client to check with. Give the app's (on its shared token store): a client of its own would fetch a new token,
   * which Daraja takes as replacing the running instances' one.
   */
  client?: DarajaClient;
  logger?: DarajaLogger;
  now?: () => Date;
}

/**
 * What `npm run daraja:check` does: looks at the settings, gets a token, optionally sends a KES 1 push, and says in
 * plain words what is right and what is wrong. Resolves true when nothing is wrong.
 */
export async function runDarajaCheck(config: DarajaConfig, opts: DarajaCheckOptions): Promise<boolean> {
  const { out, darajaEnv } = opts;
  let problems = 0;
  const ok = (line: string) => out(`  ok     ${line}`);
  const wrong = (line: string) => { problems++; out(`  WRONG  ${line}`); };
  const note = (line: string) => out(`  note   ${line}`);

  out(`Daraja check: DARAJA_ENV=${darajaEnv}, ${config.baseUrl}`);
  checkSettings(config, darajaEnv, { ok, wrong, note });
  checkInitiator(config, darajaEnv, { ok, wrong, note });

  const client = opts.client ?? new DarajaClient(config, { ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.now ? { now: opts.now } : {}) });
  let gotToken = false;
  try {
    await client.getAccessToken();
    gotToken = true;
    ok(config.consumerKey
      ? `Got an access token: the consumer key and secret are accepted at ${config.baseUrl}.`
      : `Got an access token from ${config.baseUrl} (no consumer key sent).`);
  } catch (err) {
    wrong(explainTokenFailure(err, config, darajaEnv));
  }

  if (opts.push !== undefined) {
    if (!gotToken) {
      note('The test push was not sent because there is no access token.');
    } else {
      const phone = normalizePhone(opts.push);
      if (!phone.ok) {
        wrong(`--push ${JSON.stringify(opts.push)}: ${phone.error}`);
      } else {
        try {
          const accepted = await client.stkPush({ phoneNumber: phone.value, amount: 1 });
          ok(`Daraja accepted a KES 1 push to ${maskPhone(phone.value)} (CheckoutRequestID ${accepted.checkoutRequestId}): the passkey, shortcode, timestamp and callback URL were accepted. Look at the phone; the result arrives at the callback URL.`);
        } catch (err) {
          wrong(explainPushFailure(err, config));
        }
      }
    }
  } else if (gotToken) {
    note('Add --push 2547XXXXXXXX to send a KES 1 push and check the passkey, shortcode and callback URL too.');
  }

  out(problems === 0 ? 'Nothing wrong found.' : `${problems} problem${problems === 1 ? '' : 's'} found.`);
  return problems === 0;
}

type Say = { ok: (l: string) => void; wrong: (l: string) => void; note: (l: string) => void };

function checkSettings(c: DarajaConfig, env: DarajaEnv, { ok, wrong, note }: Say): void {
  const real = env !== 'simulator';
  if (env === 'sandbox' && c.baseUrl.replace(/\/+$/, '') === PRODUCTION_BASE_URL) {
    wrong(`DARAJA_ENV=sandbox but the base URL is production's (${PRODUCTION_BASE_URL}).`);
  }
  if (env === 'production' && c.baseUrl.replace(/\/+$/, '') === SANDBOX_BASE_URL) {
    wrong(`DARAJA_ENV=production but the base URL is the sandbox's (${SANDBOX_BASE_URL}).`);
  }
  if (env === 'simulator') {
    note('The built-in simulator answers only while the app runs (npm start) or npm run simulator runs.');
  }

  if (real && (!c.consumerKey || !c.consumerSecret)) {
    wrong(`DARAJA_CONSUMER_KEY and DARAJA_CONSUMER_SECRET are both required with DARAJA_ENV=${env}: copy them from your app's page on the Daraja portal.`);
  }
  if (env === 'production' && c.passkey === SANDBOX_PASSKEY) {
    wrong('DARAJA_PASSKEY is the public sandbox passkey: production needs the passkey Safaricom emailed for your shortcode.');
  }
  if (env === 'production' && c.shortcode === SANDBOX_SHORTCODE) {
    wrong(`DARAJA_SHORTCODE is the sandbox shortcode ${SANDBOX_SHORTCODE}: use your own paybill or store number in production.`);
  }
  if (!/^\d{5,7}$/.test(c.shortcode)) wrong(`DARAJA_SHORTCODE=${JSON.stringify(c.shortcode)}: a shortcode is 5 to 7 digits.`);
  if (!/^\d{5,7}$/.test(c.partyB)) wrong(`DARAJA_PARTY_B=${JSON.stringify(c.partyB)}: PartyB is the 5 to 7 digit paybill or till number.`);
  if (c.transactionType === 'CustomerBuyGoodsOnline' && c.partyB === c.shortcode) {
    note('CustomerBuyGoodsOnline with PartyB equal to the shortcode: for a till, PartyB is usually the till number (Daraja answers 2028 or SFC_IC0003 when it is wrong).');
  }
  if (c.accountReference.length === 0 || c.accountReference.length > MAX_ACCOUNT_REFERENCE) {
    wrong(`ACCOUNT_REFERENCE must be 1 to ${MAX_ACCOUNT_REFERENCE} characters (it is ${c.accountReference.length}).`);
  }
  if (c.transactionDesc.length > MAX_TRANSACTION_DESC) {
    wrong(`TRANSACTION_DESC must be at most ${MAX_TRANSACTION_DESC} characters (it is ${c.transactionDesc.length}).`);
  }

  let url: URL | undefined;
  try { url = /\s/.test(c.callbackUrl) ? undefined : new URL(c.callbackUrl); } catch { url = undefined; }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    wrong('The callback URL is not a valid http(s) URL without spaces: check PUBLIC_BASE_URL.');
    return;
  }
  const shown = `${url.origin}${url.pathname.replace(/[^/]+$/, '…')}`; // the last segment is the secret token
  let urlOk = true;
  if (real && url.protocol !== 'https:') {
    urlOk = false;
    wrong(`The callback URL ${shown} is http: Safaricom only calls https. Set PUBLIC_BASE_URL to an https address (e.g. ngrok's).`);
  }
  const words = forbiddenWordsIn(c.callbackUrl);
  if (words.length > 0) {
    urlOk = false;
    wrong(`The callback URL contains ${words.map((w) => `"${w}"`).join(', ')}: Safaricom refuses URLs with any of ${FORBIDDEN_URL_WORDS.join(', ')} (any case).`);
  }
  if (real && /^(localhost|127\.|10\.|192\.168\.|0\.0\.0\.0|\[::1\])/.test(url.hostname)) {
    urlOk = false;
    wrong(`The callback URL points at ${url.hostname}, which Safaricom cannot reach: use a public https address.`);
  }
  if (real && /ngrok|localtunnel|loca\.lt|trycloudflare/i.test(url.hostname)) {
    note(`The callback host ${url.hostname} is a tunnel: it works in the sandbox for many, but Safaricom discourages it; use your own domain in production.`);
  }
  if (urlOk) ok(`Callback URL ${shown} looks acceptable.`);
}

function detail(err: DarajaError): string {
  const parts = [err.httpStatus !== undefined ? `HTTP ${err.httpStatus}` : undefined, err.errorCode, err.errorMessage ? `"${err.errorMessage}"` : undefined];
  const s = parts.filter(Boolean).join(' ');
  return s ? ` (${s})` : '';
}

function explainNetwork(err: DarajaNetworkError, c: DarajaConfig): string {
  switch (err.kind) {
    case 'dns': return `The host of ${c.baseUrl} does not resolve: check DARAJA_BASE_URL and the network.`;
    case 'refused': return `Nothing listens at ${c.baseUrl} (connection refused): check DARAJA_BASE_URL${c.baseUrl.includes('/simulator') ? ', and start the app or npm run simulator' : ''}.`;
    case 'timeout': return `${c.baseUrl} did not answer within ${c.timeoutMs} ms (DARAJA_TIMEOUT_MS).`;
    default: return `The connection to ${c.baseUrl} failed (${err.kind}): ${err.message}`;
  }
}

function explainTokenFailure(err: unknown, c: DarajaConfig, env: DarajaEnv): string {
  if (err instanceof DarajaAuthError) {
    return `Daraja refused the consumer key or secret${detail(err)}. Copy both again from the app's page, and use ${env === 'production' ? 'the production app\'s keys' : 'the sandbox app\'s keys'} for DARAJA_ENV=${env}.`;
  }
  if (err instanceof DarajaNetworkError) return `No access token: ${explainNetwork(err, c)}`;
  if (err instanceof DarajaError) {
    return `No access token: ${c.baseUrl} answered something that is not Daraja's token answer${detail(err)}. Is DARAJA_BASE_URL right?`;
  }
  return `No access token: ${String(err)}`;
}

function explainPushFailure(err: unknown, c: DarajaConfig): string {
  if (err instanceof DarajaAuthError) {
    return `The token works, but Daraja refused it for M-Pesa Express, even freshly fetched${detail(err)}: the M-Pesa Express product is probably not enabled on this Daraja app, or the keys belong to another environment.`;
  }
  if (err instanceof DarajaInvalidRequestError) {
    switch (err.field) {
      case 'Timestamp':
        return `Daraja refused the Timestamp${detail(err)}: check the server clock. Tikiti sends Nairobi time (UTC+3) whatever the server's zone.`;
      case 'CallBackURL':
        return `Daraja refused the callback URL${detail(err)}: it must be public https, without spaces or the words ${FORBIDDEN_URL_WORDS.join(', ')}.`;
      case 'BusinessShortCode':
        return `Daraja refused the shortcode ${c.shortcode}${detail(err)}: check DARAJA_SHORTCODE.`;
      case 'PartyB':
        return `Daraja refused PartyB ${c.partyB}${detail(err)}: check DARAJA_PARTY_B (the till number for CustomerBuyGoodsOnline).`;
      case 'PhoneNumber':
      case 'PartyA':
        return `Daraja refused the phone number${detail(err)}: use a Safaricom number registered on M-Pesa.`;
      default:
        return `Daraja refused the request${detail(err)}${err.field ? `: check ${err.field}` : ''}.`;
    }
  }
  if (err instanceof DarajaSubscriberBusyError) {
    return `Daraja says another M-Pesa request is in progress on that phone${detail(err)}: wait a minute and run the check again. The settings got this far, so the token is right.`;
  }
  if (err instanceof DarajaBusyError) return `Daraja is busy${detail(err)}: try again in a minute.`;
  if (err instanceof DarajaNetworkError) {
    return `The push got no answer: ${explainNetwork(err, c)}${err.outcome === 'unknown' ? ' The prompt may still reach the phone.' : ''}`;
  }
  if (err instanceof DarajaError) {
    if (err.code === 'DARAJA_MERCHANT_SETUP') {
      return /wrong credentials/i.test(err.errorMessage ?? '')
        ? `Daraja says "Wrong credentials"${detail(err)}: DARAJA_PASSKEY does not belong to shortcode ${c.shortcode} (the sandbox passkey goes with ${SANDBOX_SHORTCODE}; production's is emailed for your shortcode).`
        : `Daraja does not know shortcode ${c.shortcode}${detail(err)}: check DARAJA_SHORTCODE and that the app is live for it.`;
    }
    if (err.code === 'DARAJA_PUSH_NOT_STARTED') {
      return `Daraja did not start the push and gave no reason known to mean the settings${detail(err)}: the same code also covers outages. Run the check again in a few minutes; if it keeps failing, ask Safaricom, quoting the request id.`;
    }
    if (err.httpStatus === 404) {
      return `Daraja answered "not found" to the push${detail(err)}: M-Pesa Express is probably not enabled on this Daraja app, or DARAJA_BASE_URL has a wrong path.`;
    }
    return `The push failed${detail(err)}: ${err.message}`;
  }
  return `The push failed: ${String(err)}`;
}
