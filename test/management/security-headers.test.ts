import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { api } from '../helpers/http.js';

describe('management port security headers', () => {
  const fx = useBroker();

  it('sends X-Frame-Options DENY, a strict CSP and nosniff on the dashboard and the API', async () => {
    for (const path of ['/', '/dashboard/app.js', '/dashboard/style.css', '/api/overview', '/api/nope']) {
      const r = await api(fx.tb, 'GET', path);
      expect(r.headers.get('x-frame-options'), path).to.equal('DENY');
      expect(r.headers.get('x-content-type-options'), path).to.equal('nosniff');
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, path).to.include("default-src 'none'");
      expect(csp, path).to.include("script-src 'self'");
      expect(csp, path).to.include("frame-ancestors 'none'");
      expect(csp, path).to.not.include('unsafe-inline');
    }
  });
});
