import { describe, expect, it } from 'vitest';
import { EndpointUrlError, parseEndpointUrl } from '../../src/transport/endpoint-url.js';

describe('parseEndpointUrl', () => {
  it('keeps path and query of an http URL and drops the fragment', () => {
    expect(parseEndpointUrl('http://functions:8000/statefun/greeter?v=1#frag')).toEqual({
      protocol: 'http:',
      origin: 'http://functions:8000',
      socketPath: undefined,
      path: '/statefun/greeter?v=1',
      display: 'http://functions:8000/statefun/greeter?v=1#frag',
    });
  });

  it('sends "/" for an https URL without a path', () => {
    const t = parseEndpointUrl('https://fn.example.com');
    expect(t.protocol).toBe('https:');
    expect(t.origin).toBe('https://fn.example.com');
    expect(t.path).toBe('/');
  });

  it('splits http+unix at the first segment ending in .sock', () => {
    const t = parseEndpointUrl('http+unix:///var/run/fn/functions.sock/statefun/greeter?x=1');
    expect(t.protocol).toBe('http:');
    expect(t.socketPath).toBe('/var/run/fn/functions.sock');
    expect(t.path).toBe('/statefun/greeter?x=1');
    expect(t.origin).toBe('http://localhost');
  });

  it('uses TLS for https+unix and "/" when nothing follows the socket', () => {
    const t = parseEndpointUrl('https+unix:///tmp/a.sock');
    expect(t.protocol).toBe('https:');
    expect(t.socketPath).toBe('/tmp/a.sock');
    expect(t.path).toBe('/');
  });

  it('hides user info in the display form', () => {
    expect(parseEndpointUrl('http://user:secret@fn:80/x').display).toBe('http://fn/x');
  });

  it('rejects other schemes, missing sockets and garbage with a message saying what is accepted', () => {
    expect(() => parseEndpointUrl('ftp://fn/x')).toThrow(EndpointUrlError);
    expect(() => parseEndpointUrl('ftp://fn/x')).toThrow(/unsupported scheme "ftp:".*http\+unix/);
    expect(() => parseEndpointUrl('http+unix:///var/run/fn/greeter')).toThrow(/must end in "\.sock"/);
    expect(() => parseEndpointUrl('not a url')).toThrow(/not a valid URL/);
  });
});
