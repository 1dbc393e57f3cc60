import type { UpdatePolicy } from '@edge-ml/contracts';
import { announce, awaitConfirmation, confirm, defer, fallBack, forgetLost, reject, resend } from './activation.js';
import { fetchChunks, fetchPatch, fetchTargetDeltaManifest } from './delta-executors.js';
import { fetchFullPackage, installPackage, removeStagingFilesOf, type ExecutorContext } from './executors.js';
import type { Step } from './plan.js';

/** One executor per kind of step, typed by it: adding a step to the plan's union fails the typecheck until it runs. */
export type StepExecutors = { [A in Step['action']]: (step: Extract<Step, { action: A }>) => Promise<void> };

/** The executors for one planning round, bound to its policy and its cancellation signal. */
export function createStepExecutors(context: ExecutorContext, policy: UpdatePolicy, signal: AbortSignal): StepExecutors {
  return {
    'fetch-delta-manifest': (step) => fetchTargetDeltaManifest(context, step.target, signal),
    'fetch-patch': (step) => fetchPatch(context, step.target, step.from, signal, policy.maxBytesPerSecond),
    'fetch-chunks': (step) => fetchChunks(context, step.target, signal, policy.maxBytesPerSecond),
    'fetch-full': (step) => fetchFullPackage(context, step.target, signal, policy.maxBytesPerSecond),
    install: (step) => installPackage(context, step.target, signal),
    'clean-staging': (step) => removeStagingFilesOf(context, step.target),
    announce: (step) => announce(context, step.version, step.confirmation, policy),
    resend: (step) => resend(context, step.version),
    'await-confirmation': (step) => awaitConfirmation(context, step.version, step.untilMs, signal),
    confirm: (step) => confirm(context, step.version),
    reject: (step) => reject(context, step.version, step.error, step.blockUnder),
    'fall-back': (step) => fallBack(context, step.to, step.rejected),
    'forget-lost': (step) => forgetLost(context, step.lost, step.error),
    defer: (step) => defer(context, step.version, step.error, step.untilMs),
    'collect-garbage': async (step) => {
      const removed = await context.repository.removeVersions(step.remove);
      if (removed.length > 0) context.logger.info({ removed }, 'repository.gc');
      // The twin never lists a deleted version.
      await context.reporter.reportInstalled();
    },
  };
}

export function executeStep(executors: StepExecutors, step: Step): Promise<void> {
  return (executors[step.action] as (step: Step) => Promise<void>)(step);
}
