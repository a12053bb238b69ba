// The callback benchmark's baseline: a bare Express 5 app that parses the same JSON body (same parser, same limit)
// and answers what the real callback answers, nothing else. Run as its own process, like the app.
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.get('/healthz', (_req, res) => {
  res.send('ok');
});
app.post('/api/payments/callback/:token', express.json({ limit: '64kb' }), (req, res) => {
  if (typeof req.body !== 'object') res.status(400);
  res.json({ ResultCode: 0, ResultDesc: 'Success' });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
