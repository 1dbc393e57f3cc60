import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

const SAS_SIGNATURE = /([?&](?:sig|se|st|sv|sp|sr|spr|skoid|sktid|skt|ske|sks|skv)=)[^&\s"']*/gi;
const CONNECTION_STRING_KEY = /((?:SharedAccessKey|SharedAccessSignature|AccountKey)=)[^;\s"']*/gi;

/** Removes SAS query values and connection-string keys from any text, so URLs can be logged and reported safely. */
export function redactSecrets(text: string): string {
  return text.replace(SAS_SIGNATURE, '$1REDACTED').replace(CONNECTION_STRING_KEY, '$1REDACTED');
}

export interface CreateLoggerOptions {
  name: string;
  level?: string;
  destination?: DestinationStream;
}

/** The one root logger of a process. Strings anywhere in a log line pass through redactSecrets. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const pinoOptions: LoggerOptions = {
    name: options.name,
    level: options.level ?? 'info',
    base: { module: options.name },
    timestamp: stdTimeFunctions.isoTime,
    formatters: {
      log: (object) => JSON.parse(redactSecrets(JSON.stringify(object))) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<typeof method>);
      },
    },
    serializers: { err: stdSerializers.err },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
