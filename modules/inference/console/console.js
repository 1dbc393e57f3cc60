// The inference console: sends an image to /v1/detect (or to the model picked), draws what comes back, and follows /v1/models and /metrics.
import { activationEntries } from './activations.js';
import { diffSummaries, histogramQuantile, parsePrometheus, summarizeMetrics } from './prometheus.js';

const POLL_MS = 2000;
const LIVE_WINDOW_MS = 60_000;
/** The palette of the server's rendered images (src/render/overlay-svg.ts), so both agree on a class's colour. */
const PALETTE = ['#ff3b30', '#34c759', '#0a84ff', '#ff9f0a', '#bf5af2', '#00c7be', '#ff375f', '#ffd60a', '#64d2ff', '#ac8e68', '#30d158', '#5e5ce6'];

const $ = (id) => document.getElementById(id);
const view = {
  file: $('file'), drop: $('drop'), hint: $('hint'), stage: $('stage'), photo: $('photo'), boxes: $('boxes'),
  status: $('status'), stale: $('stale'), table: $('detections'), threshold: $('threshold'), thresholdValue: $('threshold-value'),
  thresholdReset: $('threshold-reset'), download: $('download'), serving: $('serving'), servingText: $('serving-text'),
  activations: $('activations'), swapCount: $('swap-count'), liveWindow: $('live-window'),
  picker: $('model-picker'), pickerLabel: $('model-picker-label'),
};

const state = {
  image: undefined, // { blob, name, url }
  result: undefined,
  threshold: undefined, // undefined: the model's own
  active: undefined,
  picked: undefined, // a model name; undefined: the default model
  models: undefined, // the last /v1/models
  summaries: [],
  requestSequence: 0,
};

const colourOf = (classId) => PALETTE[((classId % PALETTE.length) + PALETTE.length) % PALETTE.length];

/** Black or white, whichever reads better on the colour (WCAG relative luminance), as the server's images choose. */
function textColourOn(hex) {
  const [r, g, b] = [1, 3, 5].map((offset) => {
    const channel = parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 ? '#000' : '#fff';
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return ms >= 10 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

function formatAgo(iso) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

function formatTime(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '—';
  const today = at.toDateString() === new Date().toDateString();
  return today ? at.toLocaleTimeString() : at.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

function setStatus(text, kind = 'info') {
  view.status.textContent = text;
  view.status.dataset.kind = kind;
}

// ---- detection ---------------------------------------------------------------------------------------------

function detectUrl(render) {
  const query = new URLSearchParams();
  if (state.threshold !== undefined) query.set('threshold', String(state.threshold));
  if (render) query.set('render', render);
  const text = query.toString();
  const path = state.picked === undefined ? '/v1/detect' : `/v1/models/${encodeURIComponent(state.picked)}/detect`;
  return text ? `${path}?${text}` : path;
}

async function postImage(render) {
  const { blob } = state.image;
  const response = await fetch(detectUrl(render), { method: 'POST', body: blob, headers: { 'content-type': blob.type || 'application/octet-stream' } });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(`${body.error ?? response.status}: ${body.message ?? response.statusText}`);
  }
  return response;
}

async function detect() {
  if (!state.image) return;
  const sequence = ++state.requestSequence;
  setStatus('detecting…', 'busy');
  view.drop.dataset.state = 'busy';
  try {
    const result = await (await postImage()).json();
    if (sequence !== state.requestSequence) return; // a newer request (threshold moved) answers instead
    state.result = result;
    showResult(result);
  } catch (error) {
    if (sequence !== state.requestSequence) return;
    state.result = undefined;
    view.boxes.replaceChildren();
    view.table.hidden = true;
    view.download.disabled = true;
    setStatus(error.message, 'error');
  } finally {
    if (sequence === state.requestSequence) view.drop.dataset.state = state.image ? 'loaded' : 'empty';
  }
}

function showResult(result) {
  const { width, height } = result.image;
  view.boxes.replaceChildren(
    ...result.detections.map((detection, index) => {
      const { xmin, ymin, xmax, ymax } = detection.boxPixels;
      const box = element('div', 'box');
      box.dataset.index = String(index);
      box.dataset.label = detection.label;
      box.style.left = `${(100 * xmin) / width}%`;
      box.style.top = `${(100 * ymin) / height}%`;
      box.style.width = `${(100 * (xmax - xmin)) / width}%`;
      box.style.height = `${(100 * (ymax - ymin)) / height}%`;
      box.style.setProperty('--colour', colourOf(detection.classId));
      box.style.setProperty('--on-colour', textColourOn(colourOf(detection.classId)));
      const tag = element('span', ymin / height < 0.07 ? 'tag inside' : 'tag', `${detection.label} ${detection.score.toFixed(2)}`);
      box.append(tag);
      return box;
    }),
    ...result.classifications.slice(0, 3).map((entry, index) => {
      const tag = element('span', 'class-tag', `${entry.label} ${entry.score.toFixed(2)}`);
      tag.style.top = `${index * 1.9}em`;
      return tag;
    }),
  );
  const rows = [
    ...result.detections.map((detection, index) => {
      const { xmin, ymin, xmax, ymax } = detection.boxPixels;
      const row = element('tr');
      row.dataset.index = String(index);
      const swatch = element('td');
      const chip = element('span', 'swatch');
      chip.style.background = colourOf(detection.classId);
      swatch.append(chip);
      row.append(swatch, element('td', 'label', detection.label), element('td', 'num', detection.score.toFixed(3)),
        ...[xmin, ymin, xmax - xmin, ymax - ymin].map((value) => element('td', 'num', String(Math.round(value)))));
      return row;
    }),
    ...result.classifications.map((entry) => {
      const row = element('tr');
      row.append(element('td'), element('td', 'label', entry.label), element('td', 'num', entry.score.toFixed(3)), ...[0, 1, 2, 3].map(() => element('td', 'num', '—')));
      return row;
    }),
  ];
  view.table.tBodies[0].replaceChildren(...rows);
  view.table.hidden = rows.length === 0;
  view.download.disabled = false;
  const found = result.detections.length + result.classifications.length;
  const { decodeMs, inferenceMs, totalMs } = result.timings;
  setStatus(
    `${found === 0 ? 'nothing found' : `${found} found`} by ${result.model.name} ${result.model.version} · ${width}×${height} · ` +
      `decode ${formatMs(decodeMs)}, inference ${formatMs(inferenceMs)}, total ${formatMs(totalMs)}`,
    found === 0 ? 'warn' : 'ok',
  );
  showStaleness();
}

function highlight(index, on) {
  view.boxes.querySelector(`.box[data-index="${index}"]`)?.classList.toggle('hot', on);
  view.table.querySelector(`tr[data-index="${index}"]`)?.classList.toggle('hot', on);
}

function pickImage(blob, name) {
  if (!blob) return;
  if (state.image) URL.revokeObjectURL(state.image.url);
  state.image = { blob, name: name ?? 'image', url: URL.createObjectURL(blob) };
  state.result = undefined;
  view.boxes.replaceChildren();
  view.photo.src = state.image.url;
  view.stage.hidden = false;
  view.hint.hidden = true;
  view.drop.dataset.state = 'loaded';
  void detect();
}

async function downloadAnnotated() {
  if (!state.image) return;
  try {
    view.download.disabled = true;
    const response = await postImage('jpeg');
    const url = URL.createObjectURL(await response.blob());
    const link = element('a');
    link.href = url;
    link.download = `${state.image.name.replace(/\.[^.]+$/, '')}-${response.headers.get('x-model-name')}-${response.headers.get('x-model-version')}.jpg`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    setStatus(error.message, 'error');
  } finally {
    view.download.disabled = !state.result;
  }
}

// ---- the model and activations ---------------------------------------------------------------------------

/** The picker lists the default and every model when there are several; a picked model that left falls back to the default. */
function showPicker(models) {
  const names = (models.models ?? []).map((entry) => entry.name);
  if (state.picked !== undefined && !names.includes(state.picked)) state.picked = undefined;
  view.pickerLabel.hidden = names.length < 2;
  const options = [['', `default${models.defaultModel ? ` (${models.defaultModel})` : ''}`], ...names.map((name) => [name, name])];
  const current = [...view.picker.options].map((option) => `${option.value}=${option.textContent}`).join();
  if (current !== options.map(([value, text]) => `${value}=${text}`).join()) {
    view.picker.replaceChildren(...options.map(([value, text]) => Object.assign(element('option', '', text), { value })));
  }
  view.picker.value = state.picked ?? '';
}

function showModel(models) {
  state.models = models;
  showPicker(models);
  const picked = state.picked === undefined ? undefined : models.models?.find((entry) => entry.name === state.picked);
  const active = picked ? picked.active : models.active;
  state.active = active ?? undefined;
  $('model-name').textContent = active?.name ?? 'none';
  $('model-version').textContent = active?.version ?? '—';
  $('model-family').textContent = active ? `${active.family} (${active.format})` : '—';
  $('model-runtime').textContent = active?.runtime ?? '—';
  $('model-activated').textContent = active ? `${formatTime(active.activatedAt)} · ${formatAgo(active.activatedAt)}` : '—';
  const load = active?.loadMs ?? models.lastActivation?.loadMs;
  const warmup = active?.warmupMs ?? models.lastActivation?.warmupMs;
  $('model-load').textContent = load === undefined ? '—' : warmup === undefined ? formatMs(load) : `${formatMs(load)} (warm-up ${formatMs(warmup)})`;
  $('model-threshold').textContent = active?.scoreThreshold === undefined ? '—' : String(active.scoreThreshold);
  if (state.threshold === undefined && active?.scoreThreshold !== undefined) view.threshold.value = String(active.scoreThreshold);
  view.serving.dataset.state = active ? 'ready' : 'waiting';
  view.servingText.textContent = active ? `serving ${active.name} ${active.version}` : 'no model loaded';
  view.swapCount.textContent = typeof models.swapCount === 'number' ? `${models.swapCount} swap${models.swapCount === 1 ? '' : 's'}` : '';
  showActivations(models);
  showStaleness();
}

function showActivations(models) {
  const entries = activationEntries(models);
  if (entries.length === 0) {
    view.activations.replaceChildren(element('li', 'empty', 'none yet'));
    return;
  }
  view.activations.replaceChildren(
    ...entries.map((entry) => {
      const item = element('li');
      item.dataset.outcome = entry.outcome;
      const head = element('div', 'head');
      head.append(element('span', `badge ${entry.outcome}`, entry.outcome), element('span', 'which', `${entry.name ?? '?'} ${entry.version ?? ''}`), element('span', 'when', formatAgo(entry.at)));
      item.append(head);
      if (entry.error) {
        const detail = element('div', 'error', entry.error.code ?? 'error');
        if (entry.error.message) detail.title = entry.error.message;
        item.append(detail);
      }
      const details = [
        entry.trigger ? `via ${entry.trigger}` : '',
        typeof entry.loadMs === 'number' ? `load ${formatMs(entry.loadMs)}` : '',
        typeof entry.warmupMs === 'number' ? `warm-up ${formatMs(entry.warmupMs)}` : '',
        entry.acceptance ? `samples ${entry.acceptance.passed}/${entry.acceptance.samples}` : '',
      ].filter(Boolean);
      if (details.length > 0) item.append(element('div', 'detail', details.join(' · ')));
      return item;
    }),
  );
}

function showStaleness() {
  const result = state.result;
  const active = state.active;
  const stale = result && active && (result.model.name !== active.name || result.model.version !== active.version);
  view.stale.hidden = !stale;
  if (!stale) return;
  view.stale.replaceChildren(
    `These detections came from ${result.model.name} ${result.model.version}; the module now serves ${active.name} ${active.version}. `,
  );
  const again = element('button', 'button', 'Run again');
  again.type = 'button';
  again.addEventListener('click', () => void detect());
  view.stale.append(again);
}

// ---- live figures ----------------------------------------------------------------------------------------

function showLive(summary) {
  state.summaries.push(summary);
  while (state.summaries.length > 2 && summary.at - state.summaries[0].at > LIVE_WINDOW_MS) state.summaries.shift();
  const oldest = state.summaries[0];
  const window = diffSummaries(summary, oldest === summary ? undefined : oldest);
  const recent = window.latencyCount > 0 && window.seconds > 0;
  const latency = recent ? window : diffSummaries(summary, undefined);
  $('live-rate').textContent = window.seconds > 0 ? (window.requests / window.seconds).toFixed(window.requests / window.seconds >= 10 ? 0 : 1) : '—';
  const p50 = histogramQuantile(0.5, latency.buckets);
  const p95 = histogramQuantile(0.95, latency.buckets);
  $('live-p50').textContent = p50 === null ? '—' : `≈ ${formatMs(p50 * 1000)}`;
  $('live-p95').textContent = p95 === null ? '—' : `≈ ${formatMs(p95 * 1000)}`;
  $('live-total').textContent = String(summary.requests);
  $('live-errors').textContent = String(summary.errors);
  $('live-queue').textContent = String(summary.queue);
  view.liveWindow.textContent = recent ? `last ${Math.round(window.seconds)} s` : 'since start';
}

async function poll() {
  try {
    const [models, metrics] = await Promise.all([
      fetch('/v1/models').then((response) => (response.ok ? response.json() : Promise.reject(new Error(`/v1/models answered ${response.status}`)))),
      fetch('/metrics').then((response) => (response.ok ? response.text() : undefined)),
    ]);
    showModel(models);
    if (metrics !== undefined) showLive(summarizeMetrics(parsePrometheus(metrics)));
  } catch {
    view.serving.dataset.state = 'down';
    view.servingText.textContent = 'module unreachable';
  } finally {
    setTimeout(() => void poll(), POLL_MS);
  }
}

// ---- wiring ------------------------------------------------------------------------------------------------

view.file.addEventListener('change', () => pickImage(view.file.files?.[0], view.file.files?.[0]?.name));
view.drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  view.drop.classList.add('over');
});
view.drop.addEventListener('dragleave', () => view.drop.classList.remove('over'));
view.drop.addEventListener('drop', (event) => {
  event.preventDefault();
  view.drop.classList.remove('over');
  const file = event.dataTransfer?.files?.[0];
  pickImage(file, file?.name);
});
view.drop.addEventListener('click', () => {
  if (!state.image) view.file.click();
});

let thresholdTimer;
view.threshold.addEventListener('input', () => {
  state.threshold = Number(view.threshold.value);
  view.thresholdValue.textContent = state.threshold.toFixed(2);
  view.thresholdReset.hidden = false;
  clearTimeout(thresholdTimer);
  thresholdTimer = setTimeout(() => void detect(), 150);
});
view.thresholdReset.addEventListener('click', () => {
  state.threshold = undefined;
  view.thresholdValue.textContent = 'model default';
  view.thresholdReset.hidden = true;
  if (state.active?.scoreThreshold !== undefined) view.threshold.value = String(state.active.scoreThreshold);
  void detect();
});
view.download.addEventListener('click', () => void downloadAnnotated());
view.picker.addEventListener('change', () => {
  state.picked = view.picker.value === '' ? undefined : view.picker.value;
  if (state.models) showModel(state.models);
  void detect();
});
for (const container of [view.boxes, view.table]) {
  container.addEventListener('mouseover', (event) => {
    const index = event.target.closest?.('[data-index]')?.dataset.index;
    if (index !== undefined) highlight(index, true);
  });
  container.addEventListener('mouseout', (event) => {
    const index = event.target.closest?.('[data-index]')?.dataset.index;
    if (index !== undefined) highlight(index, false);
  });
}

void poll();
