import http from 'node:http';

/** A keep-alive HTTP client for POSTing images to one route (the default model's by default), lighter than fetch, as a camera module's client would be. */
export function createImagePoster(baseUrl: string, concurrency: number, routePath = '/v1/detect') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(routePath, baseUrl);
  return {
    post(image: Buffer, contentType = 'image/jpeg'): Promise<{ status: number; body: string }> {
      return new Promise((resolve, reject) => {
        const request = http.request(target, { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': image.length } }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', reject);
        });
        request.on('error', reject);
        request.end(image);
      });
    },
    close: () => agent.destroy(),
  };
}
