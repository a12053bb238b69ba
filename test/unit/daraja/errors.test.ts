import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/core/errors.js';
import {
  CUSTOMER_MESSAGES, DarajaAuthError, DarajaBusyError, DarajaError, DarajaInvalidRequestError, DarajaNetworkError,
  DarajaSubscriberBusyError, DarajaUnexpectedResponseError,
} from '../../../src/daraja/errors.js';

describe('Daraja error classes', () => {
  it.each([
    ['DarajaAuthError', new DarajaAuthError('x'), 'DARAJA_AUTH_FAILED', 'refused'],
    ['DarajaInvalidRequestError', new DarajaInvalidRequestError('x'), 'DARAJA_INVALID_REQUEST', 'refused'],
    ['DarajaSubscriberBusyError', new DarajaSubscriberBusyError('x'), 'DARAJA_SUBSCRIBER_BUSY', 'refused'],
    ['DarajaBusyError', new DarajaBusyError('x'), 'DARAJA_BUSY', 'refused'],
    ['DarajaNetworkError (timeout)', new DarajaNetworkError('x', { kind: 'timeout', outcome: 'unknown' }), 'DARAJA_NETWORK', 'unknown'],
    ['DarajaUnexpectedResponseError (5xx)', new DarajaUnexpectedResponseError('x', { outcome: 'unknown' }), 'DARAJA_UNEXPECTED_RESPONSE', 'unknown'],
  ])('when a %s is made, then it is an Error and a DarajaError with code %s and outcome %s, and not the app\'s AppError', (name, err, code, outcome) => {
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(DarajaError);
    // src/daraja stands alone: its errors owe nothing to the app's error classes.
    expect(err).not.toBeInstanceOf(AppError);
    expect(err.name).toBe(name.split(' ')[0]);
    expect(err).toMatchObject({ code, outcome });
    expect(err.customerMessage.length).toBeGreaterThan(10);
  });

  it('when a subclass is given outcome "unknown" by mistake, then a Daraja refusal stays refused', () => {
    const err = new DarajaBusyError('x', { outcome: 'unknown' } as never);
    expect(err.outcome).toBe('refused');
  });

  it('when a network error is unknown, then the customer is told the prompt may still arrive; when refused, that M-Pesa was unreachable', () => {
    expect(new DarajaNetworkError('x', { kind: 'reset', outcome: 'unknown' }).customerMessage).toBe(CUSTOMER_MESSAGES.unknown);
    expect(new DarajaNetworkError('x', { kind: 'refused', outcome: 'refused' }).customerMessage).toBe(CUSTOMER_MESSAGES.unreachable);
  });

  it('when the subscriber is busy, then the customer is told to wait a minute', () => {
    expect(new DarajaSubscriberBusyError('x').customerMessage).toBe(
      'Another M-Pesa request is in progress on your phone. Wait a minute and try again.',
    );
  });

  it('when Daraja details are given, then they are kept on the error', () => {
    const err = new DarajaInvalidRequestError('log line', {
      httpStatus: 400, errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid Amount', requestId: 'r-1', rawBody: { a: 1 }, field: 'Amount',
    });
    expect(err).toMatchObject({ message: 'log line', httpStatus: 400, errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid Amount', requestId: 'r-1', rawBody: { a: 1 }, field: 'Amount' });
  });
});
