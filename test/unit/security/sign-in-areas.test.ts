import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { basicAuth } from '../../../src/core/http/basic-auth.js';
import { createLoginLimiter } from '../../../src/core/http/login-limiter.js';
import { silentLogger } from '../../../src/core/logger.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const ADMIN = { user: 'ops', password: 'admin password 42' };
const DOOR = { user: 'door', password: 'door password 42' };

/**
 * Two areas as the app will have them: /admin with the admin's account, /door with its own and the admin's, and one
 * limiter for both (as compose.ts builds it).
 */
function twoAreas() {
  const limiter = createLoginLimiter({ logger: silentLogger, now: () => new Date() });
  const app = express();
  app.set('trust proxy', 'loopback');
  const hello = (_req: express.Request, res: express.Response) => void res.send(`hello ${String(res.locals.adminUser)}`);
  app.use('/admin', basicAuth({ accounts: [ADMIN], realm: 'Tikiti admin', limiter }), hello);
  app.use('/door', basicAuth({ accounts: [DOOR, ADMIN], realm: 'Tikiti door', limiter }), hello);
  app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).send('error');
  });
  return app;
}

describe('Basic-auth areas sharing one limiter', () => {
  it('when a second area lists its own account and the admin\'s, then both sign in there, and only the admin\'s at /admin', async () => {
    const app = twoAreas();
    await request(app).get('/door').set('Authorization', basic(DOOR.user, DOOR.password)).expect(200, 'hello door');
    await request(app).get('/door').set('Authorization', basic(ADMIN.user, ADMIN.password)).expect(200, 'hello ops');
    await request(app).get('/admin').set('Authorization', basic(ADMIN.user, ADMIN.password)).expect(200, 'hello ops');
    const res = await request(app).get('/admin').set('Authorization', basic(DOOR.user, DOOR.password)).expect(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="Tikiti admin", charset="UTF-8"');
    expect((await request(app).get('/door')).headers['www-authenticate']).toBe('Basic realm="Tikiti door", charset="UTF-8"');
  });

  it('when an address guesses at both areas, then the failures add up: after 6 at the door and 4 at /admin, both answer 429', async () => {
    const app = twoAreas();
    const ip = '198.51.100.7';
    for (let i = 0; i < 6; i++) await request(app).get('/door').set('X-Forwarded-For', ip).set('Authorization', basic('door', `guess ${i}`)).expect(401);
    for (let i = 0; i < 4; i++) await request(app).get('/admin').set('X-Forwarded-For', ip).set('Authorization', basic('ops', `guess ${i}`)).expect(401);
    await request(app).get('/admin').set('X-Forwarded-For', ip).set('Authorization', basic(ADMIN.user, ADMIN.password)).expect(429);
    await request(app).get('/door').set('X-Forwarded-For', ip).set('Authorization', basic(DOOR.user, DOOR.password)).expect(429);
    await request(app).get('/door').set('X-Forwarded-For', '198.51.100.8').set('Authorization', basic(DOOR.user, DOOR.password)).expect(200);
  });

  it('when an area has no account, then it is 404 whatever is sent, and nothing is counted against the other areas', async () => {
    const limiter = createLoginLimiter({ logger: silentLogger, now: () => new Date() });
    const app = express();
    app.use('/door', basicAuth({ accounts: [], realm: 'Tikiti door', limiter }), (_req, res) => void res.send('no'));
    app.use('/admin', basicAuth({ accounts: [ADMIN], realm: 'Tikiti admin', limiter }), (_req, res) => void res.send('yes'));
    app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(err.status ?? 500).send('error'));
    for (let i = 0; i < 15; i++) await request(app).get('/door').set('Authorization', basic('x', 'y')).expect(404);
    for (let i = 0; i < 10; i++) await request(app).get('/admin').set('Authorization', basic('ops', 'y')).expect(401);
    await request(app).get('/admin').set('Authorization', basic(ADMIN.user, ADMIN.password)).expect(429);
  });
});
