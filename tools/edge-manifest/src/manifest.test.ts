import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { parseEnvFile } from './env-file.js';
import { expandTemplate } from './expand-template.js';
import { genconfig, stringifyCreateOptions } from './genconfig.js';
import { SOLUTION_FACTS } from './solution-facts.js';
import { validateDeployment } from './validate-deployment.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const envTemplate = async () => ({ ...parseEnvFile(await readFile(path.join(root, '.env.template'), 'utf8')), CONTAINER_REGISTRY_PASSWORD: 'secret' });
const images = { loader: { image: 'r/loader:1-amd64', debugImage: 'r/loader:1-amd64.debug' }, inference: { image: 'r/inference:1-amd64', debugImage: 'r/inference:1-amd64.debug' } };
const expanded = async (template: string) => JSON.parse(expandTemplate(await readFile(path.join(root, template), 'utf8'), await envTemplate(), images)) as Record<string, unknown>;

describe('deployment templates', () => {
  it.each(['deployment.template.json', 'deployment.debug.template.json'])('%s validates against the schema and the code', async (template) => {
    const result = validateDeployment(await expanded(template), SOLUTION_FACTS);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining('route cameraToInference comes from module camera')]);
  });

  it('fails when a route names an input that no module handles', async () => {
    const manifest = await expanded('deployment.template.json');
    const hub = (manifest.modulesContent as Record<string, { 'properties.desired': { routes: Record<string, string> } }>).$edgeHub!['properties.desired'];
    hub.routes.typo = 'FROM /messages/modules/loader/outputs/DLModelOutput INTO BrokeredEndpoint("/modules/inference/inputs/DLModelInputs")';
    hub.routes.ghost = 'FROM /messages/modules/loader/outputs/Reports INTO $upstream';
    expect([...validateDeployment(manifest, SOLUTION_FACTS).errors].sort()).toEqual([
      'route ghost: module loader has no output "Reports" (it has: DLModelOutput)',
      'route typo: no module handles input "DLModelInputs" (module inference handles: DLModelInput, images)',
    ]);
  });

  it('fails when binds, ports or settings disagree with the modules', async () => {
    const manifest = await expanded('deployment.template.json');
    const modules = (manifest.modulesContent as { $edgeAgent: { 'properties.desired': { modules: Record<string, { settings: { createOptions: { HostConfig: { Binds: string[]; PortBindings: Record<string, unknown> } } }; env: Record<string, { value: string }> }> } } }).$edgeAgent['properties.desired'].modules;
    modules.loader!.settings.createOptions.HostConfig.Binds = ['/srv/edge-models:/iotedge/storage:ro'];
    modules.inference!.settings.createOptions.HostConfig.PortBindings = { '5000/tcp': [{ HostPort: '5000' }] };
    modules.inference!.env.INFERENCE_WORKERS = { value: 'two' };
    const { errors } = validateDeployment(manifest, SOLUTION_FACTS);
    expect(errors).toEqual(expect.arrayContaining([
      'module loader: shared storage is bound read-only, but the module writes it',
      'module inference: publishes container port 5000/tcp, but the module listens on 8080',
      expect.stringMatching(/^module inference: env INFERENCE_WORKERS: /),
    ]));
  });

  it('names the variables a template needs and the environment lacks', async () => {
    const template = await readFile(path.join(root, 'deployment.template.json'), 'utf8');
    expect(() => expandTemplate(template, {}, images)).toThrow(/CONTAINER_REGISTRY_ADDRESS.*EDGE_RUNTIME_VERSION.*MODEL_STORAGE_HOST_PATH/);
  });

  it('generates config/deployment.<platform>.json with images from module.json and createOptions as 512-character strings', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'config-'));
    const result = await genconfig({ root, templatePath: path.join(root, 'deployment.template.json'), platform: 'arm64v8', env: await envTemplate(), outputDirectory: out, facts: SOLUTION_FACTS });
    expect(result.errors).toEqual([]);
    const written = JSON.parse(await readFile(path.join(out, 'deployment.arm64v8.json'), 'utf8'));
    const modules = written.modulesContent.$edgeAgent['properties.desired'].modules;
    expect(modules.inference.settings.image).toBe('myregistry.azurecr.io/edge-model-inference:0.1.0-arm64v8');
    expect(typeof modules.inference.settings.createOptions).toBe('string');
    expect(JSON.parse(modules.inference.settings.createOptions)).toMatchObject({ HostConfig: { Binds: ['/srv/edge-models:/iotedge/storage:ro'] } });
    expect(written['$schema-template']).toBeUndefined();
    expect(validateDeployment(written, SOLUTION_FACTS).errors).toEqual([]);
    const debug = await genconfig({ root, templatePath: path.join(root, 'deployment.debug.template.json'), platform: 'amd64', env: await envTemplate(), outputDirectory: out, facts: SOLUTION_FACTS });
    expect(path.basename(debug.outputPath)).toBe('deployment.debug.amd64.json');
    expect(JSON.stringify(debug.manifest)).toContain('edge-model-loader:0.1.0-amd64.debug');
  });

  it('splits long createOptions into createOptions01, 02, …', () => {
    const manifest = { modulesContent: { $edgeAgent: { 'properties.desired': { modules: { big: { settings: { image: 'x', createOptions: { Env: ['A='.padEnd(1200, 'a')] } } } } } } } };
    stringifyCreateOptions(manifest);
    const settings = manifest.modulesContent.$edgeAgent['properties.desired'].modules.big.settings as unknown as Record<string, string>;
    expect(Object.keys(settings).sort()).toEqual(['createOptions', 'createOptions01', 'createOptions02', 'image']);
    expect(JSON.parse(settings.createOptions! + settings.createOptions01 + settings.createOptions02)).toEqual({ Env: ['A='.padEnd(1200, 'a')] });
  });
});

describe('module images', () => {
  const dockerfiles = async () => {
    const files: string[] = [];
    for (const module of ['loader', 'inference']) for (const file of await readdir(path.join(root, 'modules', module))) if (file.startsWith('Dockerfile.')) files.push(path.join('modules', module, file));
    return files;
  };

  it('has a Dockerfile for every platform module.json names', async () => {
    for (const module of ['loader', 'inference']) {
      const moduleJson = JSON.parse(await readFile(path.join(root, 'modules', module, 'module.json'), 'utf8'));
      expect(Object.keys(moduleJson.image.tag.platforms).sort()).toEqual(['amd64', 'amd64.debug', 'arm64v8', 'arm64v8.debug']);
      for (const dockerfile of Object.values(moduleJson.image.tag.platforms) as string[]) expect(existsSync(path.join(root, 'modules', module, dockerfile))).toBe(true);
    }
  });

  it('copies only sources that exist in the build context and are not excluded by .dockerignore', async () => {
    const ignored = (await readFile(path.join(root, '.dockerignore'), 'utf8')).split('\n').filter(Boolean);
    for (const file of await dockerfiles()) {
      const text = await readFile(path.join(root, file), 'utf8');
      for (const match of text.matchAll(/^COPY (?!--from)(.+)$/gm)) {
        const parts = (match[1] ?? '').split(/\s+/).filter((part) => !part.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          expect(existsSync(path.join(root, source)), `${file}: COPY ${source}`).toBe(true);
          expect(ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `${file}: ${source} is dockerignored`).toBe(false);
        }
      }
    }
  });

  it('runs as a non-root user, checks health, and keeps only its own architecture', async () => {
    for (const file of await dockerfiles()) {
      const text = await readFile(path.join(root, file), 'utf8');
      expect(text, file).toMatch(/^USER node$/m);
      expect(text, file).toMatch(/^HEALTHCHECK /m);
      expect(text, file).toContain('ONNXRUNTIME_NODE_INSTALL=skip');
      if (file.includes('inference')) expect(text, file).toContain(file.includes('arm64v8') ? "-path '*/linux/x64*'" : "-path '*/linux/arm64*'");
      expect(text.includes('--inspect=0.0.0.0:9229'), file).toBe(file.endsWith('.debug'));
    }
  });

  it('runs the inference module on jemalloc, installed in the image, at the path of its own architecture', async () => {
    for (const file of (await dockerfiles()).filter((name) => name.includes('inference'))) {
      const runtimeStage = (await readFile(path.join(root, file), 'utf8')).split(/^FROM /m).at(-1) ?? '';
      expect(runtimeStage, file).toMatch(/apt-get install -y --no-install-recommends libjemalloc2/);
      const multiarch = file.includes('arm64v8') ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
      expect(runtimeStage, file).toMatch(new RegExp(`^ENV LD_PRELOAD=/usr/lib/${multiarch}/libjemalloc\\.so\\.2$`, 'm'));
    }
  });

  it('gives the inference image its console files and the fonts its rendered labels are drawn with', async () => {
    const ignored = (await readFile(path.join(root, '.dockerignore'), 'utf8')).split('\n').filter(Boolean);
    expect(ignored.filter((pattern) => /(^|\/)(\*\*\/)?(console|modules|modules\/inference)$/.test(pattern))).toEqual([]);
    for (const file of (await dockerfiles()).filter((name) => name.includes('inference'))) {
      const [buildStage = '', runtimeStage = ''] = (await readFile(path.join(root, file), 'utf8')).split(/^FROM /m).slice(1);
      // The whole package is copied and deployed; only src, test and build files are removed afterwards.
      expect(buildStage, file).toMatch(/^COPY modules\/inference modules\/inference$/m);
      expect(buildStage, file).not.toMatch(/rm -rf[^\n]*\/out\/console/);
      expect(runtimeStage, file).toMatch(/apt-get install -y --no-install-recommends [^\n]*fonts-dejavu-core/);
    }
  });

  it('passes the Dockerfile linter of VS Code (dockerfile-utils) without problems', async () => {
    for (const file of await dockerfiles()) {
      const problems = lintDockerfile(await readFile(path.join(root, file), 'utf8'));
      expect(problems.map((problem) => `${file}:${problem.range.start.line + 1} ${problem.message}`)).toEqual([]);
    }
  });
});

describe('the edge-manifest CLI', () => {
  it('explains what to do without a .env, and validates a generated manifest', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'cli-'));
    const cli = path.join(root, 'tools/edge-manifest/dist/cli.js');
    if (!existsSync(cli)) execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(root, 'tsconfig.build.json')]);
    const run = (args: string[], where = cwd) => {
      try {
        return { code: 0, output: execFileSync(process.execPath, [cli, ...args], { cwd: where, encoding: 'utf8', stdio: 'pipe' }) };
      } catch (error) {
        const failed = error as { status: number; stderr: string; stdout: string };
        return { code: failed.status, output: failed.stdout + failed.stderr };
      }
    };
    expect(run(['genconfig'])).toMatchObject({ code: 2, output: expect.stringContaining('copy .env.template to .env') });
    const out = await mkdtemp(path.join(tmpdir(), 'cli-out-'));
    const generated = run(['genconfig', '--env', path.join(root, '.env.template'), '--out', out, '--platform', 'amd64'], root);
    expect(generated).toMatchObject({ code: 0, output: expect.stringContaining('deployment.amd64.json') });
    expect(run(['validate', path.join(out, 'deployment.amd64.json')], root)).toMatchObject({ code: 0, output: expect.stringContaining('is valid') });
  }, 60_000);
});
