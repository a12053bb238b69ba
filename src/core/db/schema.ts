import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/**
 * Every table, as Kysely sees it. Names follow the user's design (movie, ticket, pushrequest; camelCase columns).
 * Times are UTC strings 'YYYY-MM-DD HH:MM:SS.mmm' in both dialects (see time.ts in this folder); flags are 0/1.
 */
export interface Database {
  movie: MovieTable;
  ticket: TicketTable;
  pushrequest: PushRequestTable;
  callbackinbox: CallbackInboxTable;
  notification: NotificationTable;
  auditlog: AuditLogTable;
  darajatoken: DarajaTokenTable;
  appsecret: AppSecretTable;
  refund: RefundTable;
}

export type DbTime = string;
export type Flag = 0 | 1;

export interface MovieTable {
  movieId: Generated<number>;
  title: string;
  description: string;
  showTime: DbTime;
  /** Whole shillings. */
  price: number;
  maximumTickets: number;
  /** Tickets held by Pending tickets plus sold to Paid ones; never above maximumTickets. */
  ticketsHeld: ColumnType<number, number | undefined, number>;
  imageUrl: string | null;
  /** Set once when the show is cancelled: it leaves the catalogue, takes no booking, and its Paid tickets are refunded. */
  cancelledAt: ColumnType<DbTime | null, DbTime | null | undefined, DbTime | null>;
  cancelReason: ColumnType<string | null, string | null | undefined, string | null>;
  createdAt: DbTime;
  updatedAt: DbTime;
}

export type PaymentStatus = 'Pending' | 'Paid' | 'Failed';
export type ConfirmedBy = 'callback' | 'query' | 'operator';

export interface TicketTable {
  ticketId: Generated<number>;
  /** Opaque public reference (base64url, 144 random bits). Never the row id. */
  ref: string;
  movieId: number;
  customerName: string;
  /** 254XXXXXXXXX */
  phoneNumber: string;
  email: string | null;
  quantity: number;
  /** Whole shillings: quantity × price at booking time. */
  totalAmount: number;
  paymentStatus: PaymentStatus;
  /** 1 while this ticket's quantity is counted in movie.ticketsHeld. */
  holdsTickets: Flag;
  mpesaReceiptNumber: string | null;
  transactionDate: DbTime | null;
  resultCode: string | null;
  failureReason: string | null;
  confirmedBy: ConfirmedBy | null;
  /** Paid after its tickets were released and could not be held again: money to give back. */
  needsRefund: ColumnType<Flag, Flag | undefined, Flag>;
  refundedAt: DbTime | null;
  /** When the current payment attempt started (booking or retry): the reconciler's clock. */
  pendingSince: DbTime;
  /** When the reconciler may look at this Pending ticket next. */
  nextCheckAt: DbTime | null;
  /** 8 characters of an unambiguous alphabet, unique; shown (and in the QR code) only once Paid. See migrations/007. */
  ticketCode: string | null;
  /** People let in at the door so far; never above quantity (one conditional update per admission). */
  admitted: ColumnType<number, number | undefined, number>;
  /** The last admission: when, and by which door user. */
  lastAdmittedAt: DbTime | null;
  lastAdmittedBy: string | null;
  createdAt: DbTime;
  updatedAt: DbTime;
}

/** Sending: recorded, not yet answered. Accepted: Daraja acknowledged. Refused: Daraja said no. Unknown: no answer. Completed: final result known. */
export type PushStatus = 'Sending' | 'Accepted' | 'Refused' | 'Unknown' | 'Completed';

export interface PushRequestTable {
  pushRequestId: Generated<number>;
  ticketId: number;
  checkoutRequestId: string | null;
  merchantRequestId: string | null;
  phoneNumber: string;
  amount: number;
  status: PushStatus;
  resultCode: string | null;
  resultDesc: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: DbTime;
  answeredAt: DbTime | null;
  completedAt: DbTime | null;
}

export type InboxOutcome = 'received' | 'applied' | 'duplicate' | 'unmatched' | 'rejected' | 'invalid' | 'mismatch' | 'conflict';
/** 'reversal': a body posted to ResultURL or QueueTimeOutURL (a reversal's or a Transaction Status's result). */
export type InboxSource = 'callback' | 'query' | 'operator' | 'reversal';

export interface CallbackInboxTable {
  callbackId: Generated<number>;
  receivedAt: DbTime;
  source: InboxSource;
  sourceIp: string | null;
  /** The raw body exactly as it arrived (or the query answer), before any parsing. */
  body: string;
  checkoutRequestId: string | null;
  outcome: InboxOutcome;
  detail: string | null;
  ticketId: number | null;
  processedAt: DbTime | null;
  /** The instance that may apply this 'received' row until claimedUntil (migrations/006); another takes it over after. */
  claimedBy: ColumnType<string | null, string | null | undefined, string | null>;
  claimedUntil: ColumnType<DbTime | null, DbTime | null | undefined, DbTime | null>;
  /** Size in bytes and sha256 (hex) of the body as it arrived, where `body` holds only its start (rejected, trimmed). */
  bodyBytes: ColumnType<number | null, number | null | undefined, number | null>;
  bodySha256: ColumnType<string | null, string | null | undefined, string | null>;
}

/** What a notification announces: a payment, a failed payment, or money sent back. Each kind's texts are in
 * notifications/notification.messages.ts. */
export type NotificationKind = 'Paid' | 'Failed' | 'Refunded';
/** log: the log only (no address); email: to recipient; sms: to recipient, a +254… number. */
export type NotificationChannel = 'log' | 'email' | 'sms';

export interface NotificationTable {
  notificationId: Generated<number>;
  ticketId: number;
  kind: NotificationKind;
  channel: NotificationChannel;
  recipient: string | null;
  status: 'pending' | 'sent' | 'failed';
  attempts: ColumnType<number, number | undefined, number>;
  lastError: string | null;
  lockedUntil: DbTime | null;
  createdAt: DbTime;
  sentAt: DbTime | null;
}

export interface AuditLogTable {
  auditId: Generated<number>;
  at: DbTime;
  actor: string;
  action: string;
  ticketId: number | null;
  callbackId: number | null;
  detail: string | null;
}

/** The Daraja access token shared by the app's instances, one row per Daraja app (see migrations/003). */
export interface DarajaTokenTable {
  /** sha256 hex of base URL + consumer key: never the key or secret in clear. */
  credentialId: string;
  /** A secret: never logged. Null until the first fetch. */
  accessToken: string | null;
  /** When to replace the token (60 s before Daraja's expiry). */
  refreshAt: DbTime | null;
  /** The instance allowed to fetch a new token until leaseUntil. */
  leaseOwner: string | null;
  leaseUntil: DbTime | null;
  updatedAt: DbTime;
}

/** A secret the app makes for itself and every instance shares, one row per name (see migrations/005b). */
export interface AppSecretTable {
  /** What it is for, e.g. 'csrf'. */
  name: string;
  /** A secret: never logged, never shown. */
  value: string;
  createdAt: DbTime;
}

/** See store/refund.repository.ts for the state machine. */
export type RefundStatus = 'requested' | 'accepted' | 'refunded' | 'failed' | 'unknown';

export interface RefundTable {
  refundId: Generated<number>;
  ticketId: number;
  /** The ticket's id while this refund is in flight or done; null once it failed. Unique: one such refund per ticket. */
  activeTicketId: number | null;
  /** Whole shillings: what the ticket paid. */
  amount: number;
  /** The M-Pesa receipt of the payment being reversed. */
  transactionId: string;
  status: RefundStatus;
  reason: string | null;
  /** Who asked: the operator's user name, or 'cancel' for a cancelled show. */
  actor: string;
  /** Daraja's ids for the reversal, stored as soon as it answers; results are matched by them. */
  conversationId: string | null;
  originatorConversationId: string | null;
  /** The reversal's own M-Pesa transaction id, from its result. */
  reversalTransactionId: string | null;
  /** Daraja's ids for the latest Transaction Status query about this refund. */
  statusConversationId: string | null;
  statusOriginatorConversationId: string | null;
  resultCode: string | null;
  failureReason: string | null;
  /** Set when a sender took this refund to send it; a refund taken but never answered is never sent again. */
  sendingSince: DbTime | null;
  /** requested: when it may be sent (after a spike-arrest refusal); accepted/unknown: when to ask Transaction Status. */
  nextAttemptAt: DbTime | null;
  attempts: ColumnType<number, number | undefined, number>;
  statusChecks: ColumnType<number, number | undefined, number>;
  createdAt: DbTime;
  acceptedAt: DbTime | null;
  completedAt: DbTime | null;
  updatedAt: DbTime;
}

export type Refund = Selectable<RefundTable>;
export type Movie = Selectable<MovieTable>;
export type NewMovie = Insertable<MovieTable>;
export type Ticket = Selectable<TicketTable>;
export type NewTicket = Insertable<TicketTable>;
export type PushRequest = Selectable<PushRequestTable>;
export type CallbackInboxRow = Selectable<CallbackInboxTable>;
export type Notification = Selectable<NotificationTable>;
export type AuditLog = Selectable<AuditLogTable>;
