// The Daraja client's entry point, for Tikiti and for any other Node app: everything here imports nothing outside
// src/daraja (a test holds it to that). How to use it: docs/daraja-client.md, and examples/daraja-client.ts.
export {
  type DarajaEnv, SANDBOX_BASE_URL, PRODUCTION_BASE_URL, SANDBOX_SHORTCODE, SANDBOX_PASSKEY, FORBIDDEN_URL_WORDS, forbiddenWordsIn,
  MIN_AMOUNT, MAX_AMOUNT, MAX_ACCOUNT_REFERENCE, MAX_TRANSACTION_DESC, PATHS,
} from './constants.js';
export { normalizePhone, maskPhone, PHONE_MESSAGES, type NormalizedPhone } from './phone.js';
export { stkPassword } from './password.js';
export { darajaTimestamp, parseDarajaTimestamp } from './timestamp.js';
export { describeResultCode, isKnownResultCode, GENERIC_FAILURE } from './result-codes.js';
export { parseStkCallback, stkCallbackBodySchema, type StkCallback } from './callback.schema.js';
export {
  DarajaError, DarajaAuthError, DarajaInvalidRequestError, DarajaSubscriberBusyError, DarajaBusyError,
  DarajaNetworkError, DarajaUnexpectedResponseError, CUSTOMER_MESSAGES,
  type DarajaOutcome, type DarajaOperation, type DarajaNetworkKind, type DarajaErrorDetails,
} from './errors.js';
export {
  DarajaClient, type DarajaConfig, type DarajaClientOptions, type StkPushRequest, type StkPushAccepted,
  type StkQueryResult, type RetryPolicy,
} from './daraja.client.js';
export { runDarajaCheck, type DarajaCheckOptions } from './check.js';
export { MemoryTokenStore, credentialFingerprint, type TokenStore, type StoredToken } from './token-store.js';
export { silentLogger, type DarajaLogger } from './logger.js';
export type { Result } from './result.js';
export {
  makeSecurityCredential, resolveSecurityCredential, parseInitiatorResult, explainInitiatorFailure, RECEIVER_IDENTIFIER_TYPE,
  type InitiatorConfig, type ReversalRequest, type InitiatorAccepted, type InitiatorResult,
} from './initiator.js';
