import { describe, expect, it } from 'vitest';
import { ConnectionQueues, isProbeRequest, SEND_GRACE_MS } from './connection-shedding.js';

/** Connections are names; `begun` holds those that have sent part of their next request. */
function queues() {
  const begun = new Set<string>();
  return { begun, queues: new ConnectionQueues<string>((connection) => begun.has(connection)) };
}

/** Everything closed to bring `queues` down to `max`, as `reason:name`. */
function shed(table: ConnectionQueues<string>, now: number, max: number, evenNew = false): string[] {
  const closed: string[] = [];
  while (table.size > max) {
    const next = table.nextToClose(now, max, evenNew);
    if (!next) break;
    table.closed(next.connection);
    closed.push(`${next.reason}:${next.connection}`);
  }
  return closed;
}

const LATER = SEND_GRACE_MS + 1;

describe('ConnectionQueues: which connections close when there are too many', () => {
  it('closes none within the cap', () => {
    const { queues: table } = queues();
    table.accepted('a', 0);
    table.accepted('b', 0);
    expect(shed(table, LATER, 2)).toEqual([]);
  });
  it('evicts idle keep-alive connections first, then those that never completed a request (silent or stalled in their headers) oldest first', () => {
    const { queues: table, begun } = queues();
    for (const name of ['silent0', 'stalled1', 'idle2', 'silent3', 'idle4']) table.accepted(name, 0);
    begun.add('stalled1');
    for (const name of ['idle2', 'idle4']) {
      table.requestStarted(name, false);
      table.requestEnded(name, false);
    }
    expect(shed(table, LATER, 1)).toEqual(['evicted:idle2', 'evicted:idle4', 'evicted:silent0', 'evicted:stalled1']);
  });
  it('moves an idle connection that began its next request behind the other idle ones', () => {
    const { queues: table, begun } = queues();
    for (const name of ['a', 'b']) {
      table.accepted(name, 0);
      table.requestStarted(name, false);
      table.requestEnded(name, false);
    }
    begun.add('a');
    expect(shed(table, LATER, 0)).toEqual(['evicted:b', 'evicted:a']);
  });
  it('gives a new connection SEND_GRACE_MS, and refuses the newest requests beyond the new ones waiting, never a probe being answered', () => {
    const { queues: table } = queues();
    for (const name of ['r0', 'p1', 'r2', 'new3', 'new4']) table.accepted(name, name.startsWith('new') ? 500 : 0);
    table.requestStarted('r0', false);
    table.requestStarted('p1', true);
    table.requestStarted('r2', false);
    // 5 open, cap 2: two new ones may go on their own, so one request is refused, the newest.
    expect(shed(table, 600, 2)).toEqual(['refused:r2']);
    expect(table.graceEndsAt(600)).toBe(500 + SEND_GRACE_MS);
    // Past their grace the new ones are silent and go first.
    expect(shed(table, 500 + SEND_GRACE_MS, 2)).toEqual(['evicted:new3', 'evicted:new4']);
    expect(shed(table, LATER, 0)).toEqual(['refused:r0']);
  });
  it('at the hard limit closes the oldest unread connections even within their grace, then requests, never a probe being answered', () => {
    const { queues: table } = queues();
    table.accepted('probe', 0);
    table.requestStarted('probe', true);
    for (const name of ['new1', 'new2', 'new3']) table.accepted(name, 10);
    table.accepted('request', 10);
    table.requestStarted('request', false);
    expect(shed(table, 20, 1, true)).toEqual(['evicted:new1', 'evicted:new2', 'evicted:new3', 'refused:request']);
    expect(table.nextToClose(20, 0, true)).toBeUndefined();
  });
  it('spares only the probe being answered: a connection with probes pipelined behind it may be refused', () => {
    const { queues: table } = queues();
    table.accepted('pipelined', 0);
    expect(table.requestStarted('pipelined', true)).toBe(1);
    expect(table.requestStarted('pipelined', true)).toBe(2);
    expect(table.nextToClose(0, 0, false)).toEqual({ connection: 'pipelined', reason: 'refused' });
    table.requestEnded('pipelined', true);
    expect(table.nextToClose(0, 0, false)).toBeUndefined();
  });
});

describe('isProbeRequest', () => {
  it('knows the liveness and readiness paths of the module and of the Open Inference Protocol', () => {
    for (const url of ['/health/live', '/health/ready?verbose=1', '/v2/health/live', '/v2/health/ready', '/v2/models/yolox/ready', '/v2/models/yolox/versions/3/ready']) {
      expect(isProbeRequest('GET', url)).toBe(true);
    }
    expect(isProbeRequest('HEAD', '/health/live')).toBe(true);
  });
  it('is false for anything else', () => {
    expect(isProbeRequest('POST', '/health/live')).toBe(false);
    for (const url of ['/metrics', '/v1/models', '/health/lively', '/v2/models/yolox/infer', '/v2/models/a/b/ready']) expect(isProbeRequest('GET', url)).toBe(false);
  });
});
