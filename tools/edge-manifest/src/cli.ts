#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { genconfig, readEnv } from './genconfig.js';
import { SOLUTION_FACTS } from './solution-facts.js';
import { validateDeployment } from './validate-deployment.js';

const HELP = `edge-manifest: deployment manifests for this solution

Usage:
  edge-manifest genconfig [--template deployment.template.json] [--platform amd64] [--env .env] [--out config]
      Expands the template with each module's module.json (image <registry>/<repo>:<version>-<platform>) and .env,
      validates it, and writes config/deployment[.debug].<platform>.json, ready for
      az iot edge set-modules --device-id <device> --hub-name <hub> --content config/deployment.amd64.json
  edge-manifest validate <deployment.json>
      Checks a manifest against IoT Hub's schema and this solution's modules: routes, binds, ports, settings.
  edge-manifest --version

Exit codes: 0 success (valid), 1 failure (errors found), 2 usage error.`;

function report(errors: string[], warnings: string[]): void {
  for (const warning of warnings) console.error(`warning: ${warning}`);
  for (const error of errors) console.error(`error: ${error}`);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { template: { type: 'string' }, platform: { type: 'string' }, env: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
  });
  const [command, file] = positionals;
  if (values.version) {
    console.log((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    return 0;
  }
  if (values.help || !command) {
    console.log(HELP);
    return 0;
  }
  const root = process.cwd();
  if (command === 'genconfig') {
    if (!values.env) {
      try {
        await access(path.join(root, '.env'));
      } catch {
        console.error('edge-manifest: no .env here: copy .env.template to .env and fill it in (or pass --env)');
        return 2;
      }
    }
    const env = await readEnv(root, values.env);
    const platform = values.platform ?? env.DEFAULT_PLATFORM ?? 'amd64';
    const result = await genconfig({
      root,
      templatePath: path.resolve(values.template ?? env.DEPLOYMENT_TEMPLATE ?? 'deployment.template.json'),
      platform,
      env,
      outputDirectory: path.resolve(values.out ?? 'config'),
      facts: SOLUTION_FACTS,
    });
    report(result.errors, result.warnings);
    if (result.errors.length > 0) return 1;
    console.log(`wrote ${path.relative(root, result.outputPath)}`);
    return 0;
  }
  if (command === 'validate') {
    if (!file) {
      console.error('usage: edge-manifest validate <deployment.json>');
      return 2;
    }
    const result = validateDeployment(JSON.parse(await readFile(file, 'utf8')), SOLUTION_FACTS);
    report(result.errors, result.warnings);
    if (result.errors.length === 0) console.log(`${file} is valid`);
    return result.errors.length === 0 ? 0 : 1;
  }
  console.error(`edge-manifest: unknown command "${command}"\n\n${HELP}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`edge-manifest: ${error instanceof Error ? error.message : String(error)}`);
    // parseArgs reports unknown options and missing values with an ERR_PARSE_ARGS code: a usage error.
    process.exit(String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
