import { destination, pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

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

/** The one root logger of a process. Every serialized line passes through redactSecrets on its way out. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const target: DestinationStream = options.destination ?? destination({ dest: 1, sync: false });
  const redacting: DestinationStream = { write: (line: string) => target.write(redactSecrets(line)) };
  const pinoOptions: LoggerOptions = {
    name: options.name,
    level: options.level ?? 'info',
    base: { module: options.name },
    timestamp: stdTimeFunctions.isoTime,
    serializers: { err: stdSerializers.err },
  };
  return pino(pinoOptions, redacting);
}
