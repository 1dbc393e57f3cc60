// Reads the module's /metrics (Prometheus text format 0.0.4) into the few figures the console shows.

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample line as { name, labels, value }; comments and malformed lines are skipped. */
export function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(LABEL)) labels[key] = raw.replace(/\\(.)/g, (_all, char) => (char === 'n' ? '\n' : char));
    const value = Number(match[3]);
    if (!Number.isNaN(value)) samples.push({ name: match[1], labels, value });
  }
  return samples;
}

const DETECT_ROUTES = new Set(['/v1/detect', '/v1/models/:name/detect', '/score']);

/** The counters the console turns into rates and latencies, over every model and version: detect requests, failed ones, the total-stage histogram. */
export function summarizeMetrics(samples) {
  let requests = 0;
  let errors = 0;
  let queue = 0;
  const bucketCounts = new Map();
  let latencyCount = 0;
  let latencySum = 0;
  for (const { name, labels, value } of samples) {
    if (name === 'inference_requests_total' && DETECT_ROUTES.has(labels.route)) {
      requests += value;
      if (!String(labels.status).startsWith('2')) errors += value;
    } else if (name === 'inference_queue_length') queue = value;
    // One series per model and version: summed, as sum by (le) (...) would.
    else if (name === 'inference_stage_seconds_bucket' && labels.stage === 'total') {
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      bucketCounts.set(le, (bucketCounts.get(le) ?? 0) + value);
    } else if (name === 'inference_stage_seconds_count' && labels.stage === 'total') latencyCount += value;
    else if (name === 'inference_stage_seconds_sum' && labels.stage === 'total') latencySum += value;
  }
  const buckets = [...bucketCounts].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  return { at: Date.now(), requests, errors, queue, buckets, latencyCount, latencySum };
}

/** What happened between two summaries (the newer minus the older); counters that went back (a restart) count from zero. */
export function diffSummaries(newer, older) {
  const restarted = !older || newer.requests < older.requests || newer.latencyCount < older.latencyCount;
  const base = restarted ? { requests: 0, errors: 0, latencyCount: 0, latencySum: 0, buckets: [] } : older;
  const olderBucket = new Map(base.buckets.map((bucket) => [bucket.le, bucket.count]));
  return {
    seconds: older && !restarted ? (newer.at - older.at) / 1000 : 0,
    requests: newer.requests - base.requests,
    errors: newer.errors - base.errors,
    latencyCount: newer.latencyCount - base.latencyCount,
    latencySum: newer.latencySum - base.latencySum,
    buckets: newer.buckets.map((bucket) => ({ le: bucket.le, count: bucket.count - (olderBucket.get(bucket.le) ?? 0) })),
  };
}

/** histogram_quantile: linear within the bucket that holds the rank; the top finite bound when it falls past it. Seconds, or null without data. */
export function histogramQuantile(quantile, buckets) {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = quantile * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound;
      return count === lowerCount ? le : lowerBound + ((le - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
