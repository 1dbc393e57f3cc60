import { EdgeError } from '@edge-ml/edge-kit';

/** Loader errors: stable codes for reported properties, messages written for the operator. */
export abstract class LoaderError extends EdgeError {
  /** Retrying the same desired state can succeed (network, disk freed); false means wait for a new desired state. */
  abstract readonly retryable: boolean;
}

export class ChecksumMismatchError extends LoaderError {
  readonly code = 'LOADER_CHECKSUM_MISMATCH';
  readonly retryable = false;
  constructor(algorithm: 'sha256' | 'md5', expected: string, actual: string) {
    super(`the package's ${algorithm} is ${actual}, the desired properties say ${expected}`);
  }
}

export class AccessDeniedError extends LoaderError {
  readonly code = 'LOADER_SAS_REJECTED';
  readonly retryable = false;
  constructor(readonly status: number) {
    super(`Blob Storage refused the download URL (HTTP ${status}): the SAS token has expired or is invalid; set a new DownloadUrl`);
  }
}

export class NotFoundError extends LoaderError {
  readonly code = 'LOADER_PACKAGE_NOT_FOUND';
  readonly retryable = false;
  constructor() {
    super('the package does not exist at the download URL (HTTP 404)');
  }
}

/** A transfer that failed on the way (the link, not the content): retried with backoff, the bytes received kept and resumed. */
export class TransferError extends LoaderError {
  readonly code: 'LOADER_DOWNLOAD_INTERRUPTED' | 'LOADER_DOWNLOAD_STALLED' = 'LOADER_DOWNLOAD_INTERRUPTED';
  readonly retryable = true;
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`the download was interrupted: ${detail}`, options);
  }
}

/**
 * A body that kept arriving, but slower than the minimum average rate over the stall window (a trickle that the idle
 * timeout, reset by every byte, never ends). A TransferError: retried with backoff, resumed from the bytes received.
 */
export class DownloadStalledError extends TransferError {
  override readonly code = 'LOADER_DOWNLOAD_STALLED';
  constructor(windowBytes: number, windowMs: number, minBytesPerSecond: number) {
    super('stalled');
    this.message = `the download stalled: ${windowBytes} bytes arrived in the last ${windowMs / 1000} s, under the minimum average of ${minBytesPerSecond} B/s (LOADER_MIN_BYTES_PER_SEC over LOADER_STALL_WINDOW_MS); it resumes from the bytes received`;
  }
}

/**
 * A redirect the loader does not follow: to a scheme other than http(s), from https down to http, back to a URL
 * already visited (a loop), or past the most redirects it follows. Answering the same URL again redirects the same
 * way, so it is not retried: the desired model needs a new URL.
 */
export class RedirectRefusedError extends LoaderError {
  readonly code = 'LOADER_DOWNLOAD_REDIRECT_REFUSED';
  readonly retryable = false;
  constructor(readonly reason: string) {
    super(`the download URL's redirect was refused: ${reason}; set a URL that answers without it`);
  }
}

export class SizeMismatchError extends LoaderError {
  readonly code = 'LOADER_SIZE_MISMATCH';
  readonly retryable = false;
  /** `actual` is 'more' when the body was cut off on passing `expected`; `source` says who declared `expected`. */
  constructor(
    readonly expected: number,
    readonly actual: number | 'more',
    source: 'the desired properties' | 'Content-Length' = 'the desired properties',
  ) {
    super(
      actual === 'more'
        ? `the package runs past the ${expected} bytes ${source} ${source === 'Content-Length' ? 'declares' : 'declare'}; the download stopped there`
        : `the package is ${actual} bytes, ${source} ${source === 'Content-Length' ? 'says' : 'say'} ${expected}`,
    );
  }
}

export class DiskFullError extends LoaderError {
  readonly code = 'LOADER_DISK_FULL';
  readonly retryable = true;
  /** `neededBytes` is undefined when the file system ran out of space (ENOSPC) before the loader knew what it needed. */
  /** `heldBytes`: free bytes that other downloads and extractions of this process have reserved, not counted in `freeBytes`. */
  constructor(neededBytes: number | undefined, freeBytes: number, options?: { cause?: unknown; heldBytes?: number }) {
    super(
      neededBytes === undefined
        ? `shared storage ran out of space while writing (${freeBytes} bytes free now); the loader retries once space is freed`
        : `not enough free space on shared storage: ${neededBytes} bytes needed, ${freeBytes} free${options?.heldBytes ? ` (another ${options.heldBytes} bytes are reserved by other updates in progress; this one waits for them)` : ''}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/**
 * A body of undeclared size (no desired sizeBytes, no Content-Length) outgrew the room it may take: the free space at
 * the start of the attempt, divided by the room extraction needs too. Stopping there never fills the shared storage
 * that the device's other modules write to; the attempt is retried like any disk-full state.
 */
export class UndeclaredSizeOutgrewRoomError extends DiskFullError {
  constructor(roomBytes: number, freeBytes: number) {
    super(undefined, freeBytes);
    this.message = `the package's size is not declared (no sizeBytes in the desired properties, no Content-Length) and it grew past ${roomBytes} bytes, the most that ${freeBytes} bytes free leave room to download and extract; set sizeBytes, or free space`;
  }
}

export class InvalidPackageError extends LoaderError {
  readonly code = 'LOADER_PACKAGE_INVALID';
  readonly retryable = false;
  constructor(detail: string) {
    super(`the model package is invalid: ${detail}`);
  }
}

export class InvalidDesiredError extends LoaderError {
  readonly code = 'LOADER_DESIRED_INVALID';
  readonly retryable = false;
  constructor(detail: string) {
    super(`the desired properties are invalid: ${detail}`);
  }
}

export class VersionMissingError extends LoaderError {
  readonly code = 'LOADER_VERSION_MISSING';
  /** The next plan sees it missing and fetches it again (or falls back). */
  readonly retryable = true;
  constructor(name: string, version: string) {
    super(`${name}@${version} is no longer installed (or its manifest is unreadable)`);
  }
}
