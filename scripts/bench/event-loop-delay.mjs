// The Switchyard broker's event-loop delay per workload, through its management API.

/**
 * The broker's event-loop delay over a window (spec/management.md §Metrics):
 * `reset()` resolves to the window that ends now ({ p50, p99, p999, max, samples, since },
 * milliseconds) and starts the next one; null when the API does not answer (a broker without
 * the endpoint, management off): the figures are then left out, the workloads still run.
 */
export function eventLoopDelayProbe(managementUrl, opts = {}, log = () => {}) {
  const user = opts.syUser ?? 'guest';
  const auth = `Basic ${Buffer.from(`${user}:${opts.syPassword ?? 'guest'}`).toString('base64')}`;
  let warned = false;
  return {
    async reset() {
      try {
        const res = await fetch(`${managementUrl}/api/overview/event-loop-delay/reset`, {
          method: 'POST',
          headers: { authorization: auth },
          signal: AbortSignal.timeout(5000),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return await res.json();
      } catch (err) {
        if (!warned) log(`[switchyard] no event-loop delay from ${managementUrl}: ${err.message}`);
        warned = true;
        return null;
      }
    },
  };
}
