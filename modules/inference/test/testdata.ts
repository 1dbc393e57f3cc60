import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's testdata directory: real models and photos with their SOURCES.md. */
export const TESTDATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../testdata');
export const modelFile = (name: string) => path.join(TESTDATA, 'models', name);
export const imageFile = (name: string) => path.join(TESTDATA, 'images', name);
