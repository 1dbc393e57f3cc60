import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ModelDescriptorSchema } from '@edge-ml/contracts';
import { packageCommand, parseSampleOption } from './commands/package-command.js';
import { readPackage } from './read-package.js';

const testdata = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../testdata');
const model = path.join(testdata, 'models', 'yolox_nano.onnx');
const labels = path.join(testdata, 'models', 'coco_classes.txt');
const person = path.join(testdata, 'images', 'darknet_person.jpg');

describe('package --sample', () => {
  it('parses image=labels[@minScore] and refuses what model.json could not hold', () => {
    expect(parseSampleOption('photos/person.jpg=person, dog')).toEqual({ path: 'photos/person.jpg', labels: ['person', 'dog'] });
    expect(parseSampleOption('/tmp/p.jpg=person@0.6')).toEqual({ path: '/tmp/p.jpg', labels: ['person'], minScore: 0.6 });
    expect(() => parseSampleOption('a b.jpg=person')).toThrow(/must be a file name inside the package/);
    expect(() => parseSampleOption('person.jpg')).toThrow(/expected <image>=<label>/);
    expect(() => parseSampleOption('person.jpg=')).toThrow(/labels/);
    expect(() => parseSampleOption('person.jpg=person@2')).toThrow(/minScore/);
  });

  it('puts the sample images in the package and lists them in model.json, after running them', async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'cli-')), 'yolox.zip');
    const lines: string[] = [];
    await packageCommand([model, '--labels', labels, '--sample', `${person}=person,dog,horse@0.5`, '--out', out], (line) => lines.push(line));
    expect(lines[0]).toMatch(/yolox on onnxruntime/);
    const { contents } = await readPackage(out);
    expect(Object.keys(contents.files).sort()).toEqual(['coco_classes.txt', 'darknet_person.jpg', 'model.json']);
    const descriptor = ModelDescriptorSchema.parse(JSON.parse(contents.files['model.json']!.toString('utf8')));
    expect(descriptor.acceptance).toEqual({ samples: [{ image: 'darknet_person.jpg', labels: ['person', 'dog', 'horse'], minScore: 0.5 }] });
  }, 60_000);

  it('refuses a sample whose file name another file of the package has', async () => {
    await expect(packageCommand([model, '--labels', labels, '--sample', `${labels}=person`], () => undefined)).rejects.toThrow(/two files of the package would be named coco_classes\.txt/);
  });

  it('refuses to write a package whose sample the model does not pass, naming the sample and what is missing', async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'cli-')), 'yolox.zip');
    const dog = path.join(testdata, 'images', 'darknet_dog.jpg');
    await expect(packageCommand([model, '--labels', labels, '--sample', `${dog}=dog,giraffe`, '--out', out], () => undefined)).rejects.toThrow(
      /sample darknet_dog\.jpg: the model does not find giraffe \(it found .*dog/,
    );
  }, 60_000);
});
