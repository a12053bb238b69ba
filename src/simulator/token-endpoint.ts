import { FAILURES, errorAnswer, type DarajaAnswer } from './daraja-answers.js';
import { TOKEN_LIFETIME_SECONDS, type IssuedTokens } from './simulator.state.js';

type BasicAuth = { kind: 'none' } | { kind: 'other' } | { kind: 'garbled' } | { kind: 'basic'; user: string; pass: string };

function parseBasic(header: string | undefined): BasicAuth {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const m = /^Basic\s+(\S+)$/i.exec(header.trim());
  if (!m?.[1]) return { kind: 'other' };
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'garbled' };
  return { kind: 'basic', user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

/**
 * GET /oauth/v1/generate. Daraja refuses a request without Basic credentials, so the simulator does too; when no
 * consumer key or secret is configured it takes any pair, and checks them otherwise.
 */
export function issueToken(
  tokens: IssuedTokens,
  credentials: { consumerKey?: string; consumerSecret?: string },
  authorization: string | undefined,
  grantType: unknown,
  now: Date,
): DarajaAnswer {
  const auth = parseBasic(authorization);
  if (auth.kind !== 'basic') return errorAnswer(FAILURES.invalidAuthentication);
  const { consumerKey, consumerSecret } = credentials;
  const checks = consumerKey !== undefined || consumerSecret !== undefined;
  if (checks && (auth.user !== consumerKey || auth.pass !== consumerSecret)) return errorAnswer(FAILURES.invalidAuthentication);
  if (grantType !== 'client_credentials') return errorAnswer(FAILURES.invalidGrantType);
  const token = tokens.issue(auth.user, now);
  return { status: 200, body: { access_token: token, expires_in: String(TOKEN_LIFETIME_SECONDS) } };
}

/** Whether an Authorization header carries a live Bearer token. */
export function hasValidToken(tokens: IssuedTokens, authorization: string | undefined, now: Date): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
  return m?.[1] !== undefined && tokens.isValid(m[1], now);
}
