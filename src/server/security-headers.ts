import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * The Content-Security-Policy of every response. Bull Board's UI is a React bundle served from
 * its own path: scripts only from this origin; styles from this origin plus the inline styles
 * its loading screen and components use, and the Google Fonts stylesheet its page links (fonts
 * from fonts.gstatic.com); API calls to this origin only. Nothing may frame the board (its
 * Retry-all and Clean-all buttons must not be clickjackable), and forms and `<base>` stay on
 * this origin.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
  'font-src': ["'self'", 'https://fonts.gstatic.com', 'data:'],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

/**
 * Security headers on every response (helmet): the CSP above, `X-Frame-Options: DENY`,
 * `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, and helmet's other
 * defaults. `upgrade-insecure-requests` is left out: the server often runs on plain HTTP on
 * loopback or behind a TLS-terminating proxy, where upgrading the board's own requests to
 * https would break it.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: Object.fromEntries(
        Object.entries(CONTENT_SECURITY_POLICY).map(([k, v]) => [k, [...v]]),
      ),
    },
    frameguard: { action: 'deny' },
  });
}
