// The bearer-token check of the playground servers: constant-time comparison, 401 with the
// header to send when the token is missing or wrong.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/** Makes every request to `app` need `Authorization: Bearer <token>`; no check when `token` is unset. */
export function requireBearerToken(app: FastifyInstance, token: string | undefined, what: string): void {
  if (token === undefined || token === '') return;
  const expected = Buffer.from(`Bearer ${token}`);
  app.addHook('onRequest', async (req, reply) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: `missing or wrong ${what} token (Authorization: Bearer <token>)` });
    }
  });
}
