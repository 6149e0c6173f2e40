// Parses resolved endpoint URLs (http, https, http+unix, https+unix) into what a connection pool
// needs: the origin to connect to, an optional unix socket, and the HTTP path to request.

/** Where and how to send a request, derived from an endpoint URL. */
export interface EndpointTarget {
  /** `http:` or `https:` (the TLS choice; also for unix sockets). */
  protocol: 'http:' | 'https:';
  /** Origin for the pool (`http://localhost` for unix sockets, where it only feeds the Host header). */
  origin: string;
  /** Unix domain socket path, for the `+unix` schemes. */
  socketPath: string | undefined;
  /** Path plus query sent in the request line; never empty. */
  path: string;
  /** The URL without user info, for messages and metrics. */
  display: string;
}

/** Thrown for a URL the transport cannot use; the message says why and what is accepted. */
export class EndpointUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointUrlError';
  }
}

const accepted =
  'use http://host[:port]/path, https://..., http+unix:///path/to/socket.sock/http/path or https+unix://...';

/**
 * Parses an endpoint URL. In the unix forms the socket is the first path segment ending in
 * `.sock` (with everything before it) and the rest is the HTTP path, as in StateFun.
 */
export function parseEndpointUrl(raw: string): EndpointTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new EndpointUrlError(`endpoint URL "${raw}" is not a valid URL (${String(cause)}); ${accepted}`);
  }
  const display = redact(url);
  switch (url.protocol) {
    case 'http:':
    case 'https:': {
      if (url.hostname === '')
        throw new EndpointUrlError(`endpoint URL "${display}" has no host; ${accepted}`);
      return {
        protocol: url.protocol,
        origin: url.origin,
        socketPath: undefined,
        path: (url.pathname === '' ? '/' : url.pathname) + url.search,
        display,
      };
    }
    case 'http+unix:':
    case 'https+unix:': {
      const protocol = url.protocol === 'http+unix:' ? 'http:' : 'https:';
      // A host (http+unix://host/...) would be ignored by StateFun too; the socket comes from the path.
      const segments = url.pathname.split('/');
      const sockIndex = segments.findIndex((s) => s.endsWith('.sock'));
      if (sockIndex < 0) {
        throw new EndpointUrlError(
          `endpoint URL "${display}" names no unix socket: one path segment must end in ".sock"; ${accepted}`,
        );
      }
      const socketPath = decodeURIComponent(segments.slice(0, sockIndex + 1).join('/'));
      const rest = segments.slice(sockIndex + 1).join('/');
      return {
        protocol,
        origin: `${protocol}//localhost`,
        socketPath: socketPath.startsWith('/') ? socketPath : `/${socketPath}`,
        path: `/${rest}${url.search}`,
        display,
      };
    }
    default:
      throw new EndpointUrlError(
        `endpoint URL "${display}" has unsupported scheme "${url.protocol}"; ${accepted}`,
      );
  }
}

function redact(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}
