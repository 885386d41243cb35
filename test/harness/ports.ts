import { createServer } from 'node:net';

/**
 * A TCP port that was free on 127.0.0.1 a moment ago. Another process can take
 * it before the server binds it, so callers retry their start on EADDRINUSE.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not determine a free TCP port'));
      });
    });
  });
}

/** Up to `attempts` tries of `start`, each with a fresh port, retrying only when the port was taken. */
export async function withFreePort<T>(
  start: (port: number) => Promise<T>,
  isPortInUse: (err: unknown) => boolean,
  attempts = 4,
): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      lastError = err;
      if (!isPortInUse(err)) throw err;
    }
  }
  throw lastError;
}
