/** Reads the URL-encoded property bag IoT Hub puts at the end of MQTT topics ("$.on=out&$.ct=application%2Fjson&k=v"). */
export function parsePropertyBag(segment: string): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const pair of segment.split('&')) {
    if (!pair) continue;
    const index = pair.indexOf('=');
    const key = decodeURIComponent(index < 0 ? pair : pair.slice(0, index));
    properties[key] = index < 0 ? '' : decodeURIComponent(pair.slice(index + 1));
  }
  return properties;
}

export function formatPropertyBag(properties: Record<string, string>): string {
  return Object.entries(properties)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
}

/** The request id and other query values of a `$iothub/...?$rid=…` topic. */
export function parseQuery(topic: string): Record<string, string> {
  const index = topic.indexOf('?');
  return index < 0 ? {} : parsePropertyBag(topic.slice(index + 1));
}
