/** What the client needs to know about one Daraja app (a shortcode and its credentials) and where it is. */
export interface DarajaConfig {
  baseUrl: string;
  /**
   * The Daraja app's credentials. When neither is set (an emulator that checks none), the token request carries a
   * placeholder Basic pair instead: Daraja, and the simulator like it, refuse a token request without Basic auth.
   */
  consumerKey?: string;
  consumerSecret?: string;
  passkey: string;
  shortcode: string;
  transactionType: 'CustomerPayBillOnline' | 'CustomerBuyGoodsOnline';
  /** The shortcode for a paybill; the till number for CustomerBuyGoodsOnline. */
  partyB: string;
  callbackUrl: string;
  accountReference: string;
  transactionDesc: string;
  /** The budget of one public call (token fetch and retries included). */
  timeoutMs: number;
  /** The API operator for Reversal and Transaction Status; without it those calls are refused before sending. */
  initiator?: InitiatorConfig;
}

export interface StkPushRequest {
  phoneNumber: string;
  amount: number;
  accountReference?: string;
  transactionDesc?: string;
}

export interface StkPushAccepted {
  merchantRequestId: string;
  checkoutRequestId: string;
  responseCode: string;
  responseDescription: string;
  customerMessage: string;
  /** The Timestamp sent (Nairobi time), for the push-attempt record. */
  timestamp: string;
}

/** An STK Query's answer: still waiting for the customer, paid, or failed with Daraja's ResultCode. */
export type StkQueryResult =
  | { state: 'processing' }
  | { state: 'paid'; resultCode: '0'; resultDesc: string }
  | { state: 'failed'; resultCode: string; resultDesc: string };

export interface RetryPolicy {
  /** Extra attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The organisation's API operator, for Transaction Reversal and Transaction Status (see initiator.ts). */
export interface InitiatorConfig {
  /** The API operator's user name on the M-Pesa org portal (DARAJA_INITIATOR_NAME). */
  name: string;
  /** A ready SecurityCredential (DARAJA_SECURITY_CREDENTIAL); wins over password + certificate. A secret. */
  securityCredential?: string;
  /** The initiator's password (DARAJA_INITIATOR_PASSWORD). A secret: never logged. */
  password?: string;
  /** Safaricom's X.509 certificate for the environment, as a file (DARAJA_CERTIFICATE_PATH) or its PEM text. */
  certificatePath?: string;
  certificatePem?: string;
  /** Where Daraja posts results, and where it posts when the request waited too long in its queue. */
  resultUrl: string;
  queueTimeoutUrl: string;
}
