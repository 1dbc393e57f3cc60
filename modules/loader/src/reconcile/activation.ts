import type { RichModelMessage } from '@edge-ml/contracts';
import { LOADER_EDGE_INTERFACE } from '../edge-interface.js';
import { VersionMissingError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { announcementKey, type InstalledManifest } from '../repository/model-repository.js';
import type { ExecutorContext } from './executors.js';
import type { ErrorInfo, VersionRef } from './plan.js';

export const [MODEL_OUTPUT] = LOADER_EDGE_INTERFACE.outputs;

/**
 * The closed loop with the inference module (docs/architecture.md, "Activation and confirmation"). Every pointer
 * write is preceded by the state that explains it: an announcement on trial is recorded as awaiting before the
 * pointer names it, a verdict is recorded before the pointer moves back, so a restart at any point plans the rest.
 */

async function manifestOf(context: ExecutorContext, version: VersionRef): Promise<InstalledManifest> {
  const manifest = await context.repository.readManifest(version.name, version.version);
  if (!manifest) throw new VersionMissingError(version.name, version.version);
  return manifest;
}

const modelLabel = (manifest: Pick<InstalledManifest, 'name' | 'version'>) => `${manifest.name}@${manifest.version}`;

async function send(context: ExecutorContext, manifest: InstalledManifest, message: RichModelMessage): Promise<void> {
  if (context.edge) {
    await context.edge.sendOutput(MODEL_OUTPUT, { body: Buffer.from(JSON.stringify(message)), properties: { model: modelLabel(manifest) }, contentType: 'application/json', contentEncoding: 'utf-8' });
  }
  context.inbox.markSent(announcementKey(manifest), Date.now());
}

/** Names the version in the announced pointer and on DLModelOutput; `await` records it as awaiting its status first. */
export async function announce(context: ExecutorContext, version: VersionRef, confirmation: 'await' | 'none', policy: { confirmTimeoutSeconds: number }): Promise<void> {
  const manifest = await manifestOf(context, version);
  const key = announcementKey(manifest);
  const message = context.repository.announcementFor(manifest);
  context.inbox.startAnnouncement(key);
  const deadline = new Date(Date.now() + policy.confirmTimeoutSeconds * 1000).toISOString();
  if (confirmation === 'await') {
    await context.state.updateEntry(context.name, { awaiting: { key, name: manifest.name, version: manifest.version, announcedAt: message.announcedAt ?? new Date().toISOString(), deadline } });
    failpoint('announce.awaiting-recorded');
  }
  await context.index.setAnnounced(message);
  failpoint('announce.pointer-written');
  await send(context, manifest, message);
  failpoint('announce.sent');
  await context.state.updateEntry(context.name, { messageSentFor: key });
  context.logger.info({ model: manifest.name, version: manifest.version, confirmation, ...(confirmation === 'await' ? { deadline } : {}) }, 'model.announced');
  if (confirmation === 'await') {
    await context.reporter.update({ state: 'announced', name: manifest.name, version: manifest.version, confirmDeadline: deadline, ...(manifest.delivery ?? {}) });
  } else if (context.index.entry(manifest.name)?.confirmed?.sha256 === manifest.modelSha256) {
    await context.reporter.update({ state: 'active', name: manifest.name, version: manifest.version });
  }
}

/** Sends the awaited announcement again (the pointer already names it): one lost message must not stall the update. */
export async function resend(context: ExecutorContext, version: VersionRef): Promise<void> {
  const manifest = await manifestOf(context, version);
  const message = context.index.entry(manifest.name)?.announced ?? context.repository.announcementFor(manifest);
  await send(context, manifest, message);
  context.logger.info({ model: manifest.name, version: manifest.version }, 'model.announce.resent');
}

/** Waits for the inference module's status of the announcement, until `untilMs` (the next re-send or the deadline). */
export async function awaitConfirmation(context: ExecutorContext, version: VersionRef, untilMs: number, signal: AbortSignal): Promise<void> {
  const manifest = await manifestOf(context, version);
  await context.inbox.waitForStatus(announcementKey(manifest), untilMs, signal);
}

/** The inference module serves the version: it becomes the last-known-good (confirmed.json), and active. */
export async function confirm(context: ExecutorContext, version: VersionRef): Promise<void> {
  const manifest = await manifestOf(context, version);
  const key = announcementKey(manifest);
  const announced = context.index.entry(manifest.name)?.announced;
  const body = announced && announced.name === manifest.name && announced.version === manifest.version && announced.sha256 === manifest.modelSha256 ? announced : context.repository.announcementFor(manifest);
  const confirmedAt = new Date().toISOString();
  await context.index.setConfirmed({ ...body, confirmedAt });
  failpoint('confirm.pointer-written');
  await context.state.update(context.state.confirmation({ name: manifest.name, version: manifest.version, key, modelSha256: manifest.modelSha256 }, confirmedAt), { name: context.name, change: { awaiting: null, failure: null } });
  failpoint('confirm.recorded');
  const status = context.inbox.statusFor(key);
  context.logger.info({ model: manifest.name, version: manifest.version, ...(status?.outcome === 'accepted' ? { loadMs: status.loadMs, warmupMs: status.warmupMs, trigger: status.trigger } : {}) }, 'model.confirmed');
  await context.reporter.update({ state: 'active', name: manifest.name, version: manifest.version, ...(manifest.delivery ?? {}) });
}

/** Records that the version failed (the inference module's code, or the confirmation timeout); the fall-back follows. */
export async function reject(context: ExecutorContext, version: VersionRef, error: ErrorInfo, blockUnder: string | undefined): Promise<void> {
  const manifest = await context.repository.readManifest(version.name, version.version);
  const { awaiting } = context.state.entry(context.name);
  const key = manifest ? announcementKey(manifest) : awaiting?.name === version.name && awaiting.version === version.version ? awaiting.key : undefined;
  const { verdicts, rejections } = context.state.current;
  await context.state.update({
    ...(key ? { verdicts: { ...verdicts, [key]: { verdict: 'rejected', at: new Date().toISOString(), error } } } : {}),
    ...(key && blockUnder ? { rejections: [...rejections.filter((block) => block.key !== key), { key, targetKey: blockUnder }] } : {}),
  }, { name: context.name, change: { awaiting: null } });
  failpoint('reject.recorded');
  context.logger.warn({ model: version.name, version: version.version, code: error.code, reason: error.message }, 'model.rejected');
}

/**
 * The inference module refused the version for lack of memory (what else it holds decides that, not the version): no
 * verdict, no block; it is announced again at `untilMs` or sooner (loader.ts wakes it when memory may have freed).
 */
export async function defer(context: ExecutorContext, version: VersionRef & { key: string }, error: ErrorInfo, untilMs: number): Promise<void> {
  context.deferrals.set(version.key, { untilMs, error });
  await context.state.updateEntry(context.name, { awaiting: null });
  context.logger.warn({ model: version.name, version: version.version, code: error.code, reason: error.message, retryAt: new Date(untilMs).toISOString() }, 'model.deferred');
}

/** Announces the last-known-good again, or withdraws the pointer when no version was ever confirmed; reports `rejected`. */
export async function fallBack(context: ExecutorContext, to: VersionRef | undefined, rejected: VersionRef & { error: ErrorInfo }): Promise<void> {
  if (to) {
    const manifest = await manifestOf(context, to);
    const message = context.repository.announcementFor(manifest);
    context.inbox.startAnnouncement(announcementKey(manifest));
    await context.index.setAnnounced(message);
    failpoint('fallback.pointer-written');
    await send(context, manifest, message);
    await context.state.updateEntry(context.name, { messageSentFor: announcementKey(manifest) });
  } else {
    // Nothing of this model was ever confirmed: it leaves the index (the inference module serves the others).
    await context.index.withdraw(context.name);
    await context.state.updateEntry(context.name, { messageSentFor: null });
  }
  context.logger.warn({ model: rejected.name, version: rejected.version, code: rejected.error.code, fallback: to ? modelLabel(to) : null }, 'model.fallback');
  await context.reporter.update({ state: 'rejected', name: rejected.name, version: rejected.version, error: rejected.error });
}

/**
 * The last-known-good cannot serve (gone from disk, or unreadable to the inference module): it is recorded rejected,
 * the pointers that name it are withdrawn (so it is never reported active), and the loss is reported. The planner
 * then announces the newest earlier confirmed version still installed, on trial like any other.
 */
export async function forgetLost(context: ExecutorContext, lost: VersionRef & { key: string }, error: ErrorInfo): Promise<void> {
  const { verdicts } = context.state.current;
  await context.state.update({ verdicts: { ...verdicts, [lost.key]: { verdict: 'rejected', at: new Date().toISOString(), error } } });
  const announced = context.index.entry(context.name)?.announced;
  if (announced && `${announced.name}@${announced.version}#${announced.sha256}` === lost.key) {
    await context.index.withdraw(context.name);
    await context.state.updateEntry(context.name, { messageSentFor: null });
  } else {
    await context.index.withdrawConfirmed(context.name);
  }
  context.logger.error({ model: lost.name, version: lost.version, code: error.code, reason: error.message }, 'model.confirmed.lost');
  await context.reporter.update({ state: 'failed', name: lost.name, version: lost.version, error });
}
