'use strict';
const { waitFor, within } = require('./server');

// Callback-based subscription that records messages; wait(n) waits (bounded)
// until at least n messages arrived.
function collector(nc, subject, opts = {}) {
  const msgs = [];
  const errors = [];
  const sub = nc.subscribe(subject, {
    ...opts,
    callback: (err, m) => { if (err) errors.push(err); else msgs.push(m); },
  });
  return {
    sub,
    msgs,
    errors,
    wait: (n, ms = 5000) => waitFor(() => msgs.length >= n, ms, `${n} messages on ${subject} (have ${msgs.length})`),
  };
}

// Iterate a subscription until it closes (bounded).
async function drainAll(sub, ms = 5000) {
  const out = [];
  await within((async () => { for await (const m of sub) out.push(m); })(), ms, 'subscription close');
  return out;
}

module.exports = { collector, drainAll };
