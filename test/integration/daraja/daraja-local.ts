// A small stand-in for an outside Daraja emulator that answers the way alex-migwi/daraja-local was seen to: tokens it
// forgets when it restarts (every call then answers 401 with no Daraja envelope), a query for an open prompt answered
// HTTP 200 with ResultCode "9999" "The transaction is being processed", and 500.001.1001 with the message of one's
// choosing on a push. Real sockets on 127.0.0.1, so the client under test is the real one, axios and all.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type PushReply =
  | { kind: 'accept' }
  | { kind: 'envelope'; status: number; errorCode: string; errorMessage: string };

export type QueryReply = { status: number; body: unknown };

export interface DarajaLocal {
  baseUrl: string;
  /** Forgets every token, as the emulator does when it restarts. */
  restart(): void;
  /** How the next pushes are answered (a token it knows being given). Default: accepted. */
  pushReply: PushReply;
  /** How queries are answered (a token it knows being given). Default: 200, 9999, "being processed". */
  queryReply: QueryReply;
  /** Every request that reached it: method, path, the Authorization header and the answer's status. */
  seen: { method: string; path: string; authorization?: string; status: number }[];
  close(): Promise<void>;
}

export const BEING_PROCESSED: QueryReply = {
  status: 200,
  body: {
    ResponseCode: '0', ResponseDescription: 'The service request has been accepted successsfully',
    MerchantRequestID: 'm-1', CheckoutRequestID: 'ws_CO_local', ResultCode: '9999', ResultDesc: 'The transaction is being processed',
  },
};

export async function startDarajaLocal(): Promise<DarajaLocal> {
  const tokens = new Set<string>();
  let issued = 0;
  let checkouts = 0;
  const local: Omit<DarajaLocal, 'baseUrl' | 'close'> = {
    restart: () => tokens.clear(),
    pushReply: { kind: 'accept' },
    queryReply: BEING_PROCESSED,
    seen: [],
  };
  const answer = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown) => {
    local.seen.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, authorization: req.headers.authorization, status });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }).end(text);
  };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'GET' && path === '/oauth/v1/generate') {
        const token = `local-token-${++issued}`;
        tokens.add(token);
        return answer(req, res, 200, { access_token: token, expires_in: '3599' });
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      // After a restart its tokens are gone, and it says so without Daraja's envelope.
      if (!bearer || !tokens.has(bearer)) return answer(req, res, 401, 'Unauthorized');
      if (path === '/mpesa/stkpush/v1/processrequest') {
        const r = local.pushReply;
        if (r.kind === 'envelope') return answer(req, res, r.status, { requestId: 'local-1', errorCode: r.errorCode, errorMessage: r.errorMessage });
        return answer(req, res, 200, {
          MerchantRequestID: `m-${++checkouts}`, CheckoutRequestID: `ws_CO_local_${checkouts}`, ResponseCode: '0',
          ResponseDescription: 'Success. Request accepted for processing', CustomerMessage: 'Success. Request accepted for processing',
        });
      }
      if (path === '/mpesa/stkpushquery/v1/query') return answer(req, res, local.queryReply.status, local.queryReply.body);
      return answer(req, res, 404, { requestId: 'local-2', errorCode: '404.001.01', errorMessage: 'Resource not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(local, {
    baseUrl,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
