import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import express, { type ErrorRequestHandler, type RequestHandler, type Response, type Router } from 'express';
import { FAILURES, errorAnswer, type DarajaAnswer } from './daraja-answers.js';
import { PATHS } from './daraja-protocol.js';
import { presentPrompt, type PromptView } from './phone.presenter.js';
import type { PhoneAction, SimulatorService } from './simulator.service.js';
import type { SimulatorPrompt } from './simulator.state.js';
import { simulatorCertificate } from './credential.js';
import { REVERSAL_TEST_NUMBERS, type ReversalDesk } from './reversal-desk.js';
import type { SmsInbox } from './sms-inbox.js';
import { TEST_NUMBERS } from './test-numbers.js';

// Absolute paths, so the router renders and serves the same whatever the host app's view and static settings.
const VIEWS_DIR = fileURLToPath(new URL('../../views/simulator/', import.meta.url));
const PUBLIC_DIR = fileURLToPath(new URL('../../public/simulator/', import.meta.url));

const PHONE_ACTIONS: readonly PhoneAction[] = ['pin', 'cancel', 'timeout'];
const NOTICES: Record<string, string> = { gone: 'That prompt is no longer waiting: it was answered or timed out.' };

/** "20:12:01", Nairobi time (UTC+3 all year). */
const nairobiTime = (at: Date) => new Date(at.getTime() + 3 * 3600_000).toISOString().slice(11, 19);

function send(res: Response, answer: DarajaAnswer): void {
  res.status(answer.status).json(answer.body);
}

/** The Daraja look-alike endpoints and the phone page; mount it at /simulator (or at / to stand in for Daraja). */
export function createSimulatorRouter(service: SimulatorService, desk: ReversalDesk, phones?: { inbox: SmsInbox; sms: Router }): Router {
  const router = express.Router();
  const { logger, merchantName, delayMs, promptSeconds, mode, responseDelayMs } = service.settings;
  const json = express.json();
  const form = express.urlencoded({ extended: false });

  const present = (p: SimulatorPrompt): PromptView =>
    presentPrompt(p, { merchantName, delayMs, promptSeconds, isTestNumber: TEST_NUMBERS.has(p.phoneNumber) });
  const render = (view: string, data: Record<string, unknown>) => ejs.renderFile(`${VIEWS_DIR}${view}.ejs`, data);

  router.use('/assets', express.static(PUBLIC_DIR, { index: false }));

  // ---- Daraja ----
  const delayed: RequestHandler = async (_req, _res, next) => {
    await service.wait(responseDelayMs);
    next();
  };
  const bearer: RequestHandler = (req, res, next) => {
    if (service.hasValidToken(req.get('authorization'))) next();
    else send(res, errorAnswer(FAILURES.invalidAccessToken));
  };

  router.get(PATHS.token, delayed, (req, res) => {
    send(res, service.issueToken(req.get('authorization'), req.query.grant_type));
  });

  router.post(PATHS.stkPush, delayed, bearer, json, (req, res) => {
    const { answer, hold } = service.push(req.body);
    if (!hold) return send(res, answer);
    // 254700000008: the prompt goes ahead but the answer never comes in time; a client that gives up is let go.
    const drop = service.hold(() => {
      if (!res.writableEnded && !res.destroyed) send(res, answer);
    });
    res.on('close', drop);
  });

  router.post(PATHS.stkQuery, delayed, bearer, json, (req, res) => {
    send(res, service.query(req.body));
  });

  router.post(PATHS.reversal, delayed, bearer, json, (req, res) => {
    send(res, desk.reversal(req.body));
  });

  router.post(PATHS.transactionStatus, delayed, bearer, json, (req, res) => {
    send(res, desk.transactionStatus(req.body));
  });

  // The simulator's own certificate (TEST ONLY): a client makes its SecurityCredential with it, as with Safaricom's.
  router.get('/certificate', (_req, res) => {
    res.type('application/x-pem-file').set('cache-control', 'no-store').send(simulatorCertificate());
  });

  // Tells the simulator to refuse every Nth reversal or status request with spike arrest, as a loaded Daraja does.
  router.post('/spike-arrest', json, (req, res) => {
    const every = Number((req.body as { every?: unknown } | undefined)?.every ?? 0);
    desk.setSpikeArrest(every);
    res.json({ every: Number.isInteger(every) && every > 0 ? every : 0 });
  });

  router.all(Object.values(PATHS), (_req, res) => send(res, errorAnswer(FAILURES.methodNotAllowed)));

  // ---- Africa's Talking look-alike and the phones' messages ----
  if (phones) router.use(phones.sms);

  // ---- The phone page ----
  router.get('/phone', async (req, res) => {
    const screen = service.phoneScreen();
    const notice = typeof req.query.notice === 'string' ? NOTICES[req.query.notice] : undefined;
    const html = await render('phone', {
      base: req.baseUrl,
      merchantName,
      mode,
      version: screen.version,
      pending: screen.pending.map(present),
      recent: screen.recent.map(present),
      notice,
      inboxes: (phones?.inbox.byNumber() ?? []).map((b) => ({
        phone: b.phone,
        messages: b.messages.map((m) => ({ from: m.from, message: m.message, at: m.at.toISOString(), atDisplay: nairobiTime(m.at) })),
      })),
      testNumbers: [...TEST_NUMBERS, ...REVERSAL_TEST_NUMBERS].map(([phone, s]) => ({ phone, note: s.note })),
      reversals: desk.reversals().slice(0, 20).map((r) => ({ ...r, phone: r.phoneNumber, when: r.at.toISOString() })),
    });
    res.set('cache-control', 'no-store').type('html').send(html);
  });

  /** The phone page polls this: the prompts with their HTML, or `changed: false` when nothing moved since `since`. */
  router.get('/phone/prompts', async (req, res) => {
    const screen = service.phoneScreen();
    res.set('cache-control', 'no-store');
    if (req.query.since === String(screen.version)) {
      res.json({ version: screen.version, changed: false });
      return;
    }
    const withHtml = (view: string) => async (p: SimulatorPrompt) => {
      const prompt = present(p);
      return { ...prompt, html: await render(view, { base: req.baseUrl, p: prompt }) };
    };
    res.json({
      version: screen.version,
      changed: true,
      pending: await Promise.all(screen.pending.map(withHtml('_pending'))),
      recent: await Promise.all(screen.recent.map(withHtml('_finished'))),
    });
  });

  router.post('/phone/prompts/:id/:action', form, json, (req, res) => {
    const action = PHONE_ACTIONS.find((a) => a === req.params.action);
    if (action === undefined) return send(res, errorAnswer(FAILURES.resourceNotFound));
    const pin: unknown = req.body?.pin;
    const prompt = service.answer(String(req.params.id), action, typeof pin === 'string' ? pin.trim() : undefined);
    if (req.accepts(['html', 'json']) === 'json') {
      if (prompt) res.json(present(prompt));
      else res.status(409).json({ error: NOTICES.gone });
      return;
    }
    // Without JavaScript: Post/Redirect/Get back to the phone.
    res.redirect(303, `${req.baseUrl}/phone${prompt ? '' : '?notice=gone'}`);
  });

  router.use((_req, res) => send(res, errorAnswer(FAILURES.resourceNotFound)));

  const onError: ErrorRequestHandler = (err: { type?: string }, req, res, _next) => {
    if (err?.type === 'entity.parse.failed') return send(res, errorAnswer(FAILURES.invalidPayload));
    logger.error({ err, path: req.path }, 'simulator: request failed');
    if (!res.headersSent) send(res, errorAnswer(FAILURES.internalError));
  };
  router.use(onError);

  return router;
}
