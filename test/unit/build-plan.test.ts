/**
 * Build plans: which Dockerfile a source directory gets, the structure of the Dockerfiles Berth
 * writes (stages, COPY --from, exec-form RUN and CMD, escaped ENV), and hostile values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BerthError } from '../../src/core/errors.ts';
import { planBuild, type BuildPlan, type GeneratedPlan } from '../../src/core/build/build-plan.ts';
import { envInstruction, runInstruction } from '../../src/core/build/dockerfile-text.ts';
import { osPackagesRuntimeImages } from '../../src/core/build/managed-runtimes.ts';

const REPOSITORY = { ConfigurationSource: 'REPOSITORY' } as const;

function generated(plan: BuildPlan): GeneratedPlan {
  assert.equal(plan.kind, 'generated');
  return plan as GeneratedPlan;
}

const lines = (plan: GeneratedPlan): string[] => plan.dockerfile.trimEnd().split('\n');

/** Reads a RUN/CMD exec form back as the argv Docker will run. */
function execArgv(line: string, instruction: string): string[] {
  assert.ok(line.startsWith(`${instruction} [`), line);
  return JSON.parse(line.slice(instruction.length + 1)) as string[];
}

/** Undoes BuildKit's double-quote escaping, as its lexer does: \" \\ \$ only. */
function envValue(line: string, name: string): string {
  const match = /^ENV ([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(line);
  assert.ok(match !== null && match[1] === name, line);
  return (match[2] ?? '').replace(/\\([\\"$])/g, '$1');
}

const FULL_YAML = `version: 1.0
runtime: python311
build:
  commands:
    pre-build: [ "echo prepare" ]
    build:     [ "pip3 install -r requirements.txt" ]
    post-build: [ "python3 -m pytest -q" ]
  env:
    - name: BUILD_FLAG
      value: "1"
run:
  pre-run: [ "pip3 install -r requirements.txt" ]
  command: python3 app.py
  network: { port: 8000, env: APP_PORT }
  env:
    - name: LOG_LEVEL
      value: info
  secrets:
    - name: API_KEY
      value-from: "my-ssm-parameter-name"
`;

test('apprunner.yaml (revised build): two stages, only /app carried over, pre-run with build env, ENV, CMD', () => {
  const plan = generated(planBuild({ files: ['apprunner.yaml', 'Dockerfile', 'app.py'], apprunnerYaml: FULL_YAML }, REPOSITORY));
  assert.equal(plan.origin, 'apprunner.yaml');
  assert.equal(plan.runtime.apiName, 'PYTHON_311');
  assert.equal(plan.port, 8000);
  assert.equal(plan.startCommand, 'python3 app.py');
  assert.deepEqual(plan.environment, { PORT: '8000', APP_PORT: '8000', LOG_LEVEL: 'info' });
  assert.deepEqual(plan.secrets, [{ name: 'API_KEY', valueFrom: 'my-ssm-parameter-name' }]);
  assert.deepEqual(lines(plan).slice(1), [
    'FROM python:3.11-bookworm AS build',
    'WORKDIR /app',
    'COPY . /app',
    'ENV BUILD_FLAG="1"',
    'RUN ["/bin/sh","-c","echo prepare"]',
    'RUN ["/bin/sh","-c","pip3 install -r requirements.txt"]',
    'RUN ["/bin/sh","-c","python3 -m pytest -q"]',
    '',
    'FROM python:3.11-slim-bookworm AS run',
    'WORKDIR /app',
    'COPY --from=build /app /app',
    'RUN ["/usr/bin/env","BUILD_FLAG=1","/bin/sh","-c","pip3 install -r requirements.txt"]',
    'ENV PORT="8000"',
    'ENV APP_PORT="8000"',
    'ENV LOG_LEVEL="info"',
    'EXPOSE 8000',
    'CMD ["/bin/sh","-c","python3 app.py"]',
  ]);
  assert.ok(!lines(plan)[0]?.includes('='), 'the first line must not read as a parser directive');
});

test('apprunner.yaml (original build): pre-build and build run again in the run image', () => {
  const yaml = 'version: 1.0\nruntime: nodejs16\nbuild:\n  commands:\n    pre-build: [npm i -g pnpm]\n    build: [pnpm install]\nrun:\n  command: pnpm start\n';
  const plan = generated(planBuild({ files: ['apprunner.yaml'], apprunnerYaml: yaml }, REPOSITORY));
  const run = lines(plan).slice(lines(plan).indexOf('FROM node:16-bullseye AS run'));
  assert.deepEqual(run, [
    'FROM node:16-bullseye AS run',
    'WORKDIR /app',
    'COPY --from=build /app /app',
    'RUN ["/bin/sh","-c","npm i -g pnpm"]',
    'RUN ["/bin/sh","-c","pnpm install"]',
    'ENV PORT="8080"',
    'EXPOSE 8080',
    'CMD ["/bin/sh","-c","pnpm start"]',
  ]);
});

test('an invalid apprunner.yaml fails the plan with its line and rule', () => {
  assert.throws(
    () => planBuild({ files: ['apprunner.yaml'], apprunnerYaml: 'version: 1.0\nruntime: nodejs22\nbuild:\n  commands: {}\nrun:\n  command: x\n' }, REPOSITORY),
    /apprunner\.yaml line 4, column 13: 'build.commands.build' is required/,
  );
});

test('a Dockerfile (and no apprunner.yaml) is built as is', () => {
  const plan = planBuild({ files: ['Dockerfile', 'package.json'] }, REPOSITORY);
  assert.deepEqual(plan, { kind: 'dockerfile', dockerfilePath: 'Dockerfile', port: 8080, environment: { PORT: '8080' }, secrets: [] });
});

test('API values: one build command, start command, port, environment; files are not consulted', () => {
  const plan = generated(planBuild({ files: ['Dockerfile', 'apprunner.yaml'] }, {
    ConfigurationSource: 'API',
    CodeConfigurationValues: {
      Runtime: 'NODEJS_18', BuildCommand: 'npm ci', StartCommand: 'node server.js', Port: '3000',
      RuntimeEnvironmentVariables: { MODE: 'prod' }, RuntimeEnvironmentSecrets: { TOKEN: 'arn:aws:ssm:us-east-1:123456789012:parameter/t' },
    },
  }));
  assert.equal(plan.origin, 'api');
  assert.deepEqual(plan.environment, { PORT: '3000', MODE: 'prod' });
  assert.deepEqual(plan.secrets, [{ name: 'TOKEN', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/t' }]);
  const text = lines(plan);
  assert.deepEqual(text.filter((l) => l.startsWith('FROM ')), ['FROM node:18-bookworm AS build', 'FROM node:18-bookworm-slim AS run']);
  assert.deepEqual(text.filter((l) => l.startsWith('RUN ')), ['RUN ["/bin/sh","-c","npm ci"]']);
  assert.equal(text.at(-1), 'CMD ["/bin/sh","-c","node server.js"]');
  assert.ok(text.includes('ENV MODE="prod"'));
  assert.ok(!plan.dockerfile.includes('TOKEN'), 'secrets are resolved at run time, never baked into the image');
});

test('API values are checked, all problems at once', () => {
  assert.throws(
    () => planBuild({ files: [] }, { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_20', Port: '0', RuntimeEnvironmentVariables: { PORT: '1' } } }),
    (error: unknown) => {
      assert.ok(error instanceof BerthError);
      assert.equal(error.code, 'InvalidRequestException');
      assert.match(error.message, /Runtime 'NODEJS_20' is not a managed runtime; allowed: PYTHON_3/);
      assert.match(error.message, /StartCommand is required/);
      assert.match(error.message, /Port '0' must be a whole number from 1 to 65535/);
      assert.match(error.message, /RuntimeEnvironmentVariables: 'PORT' is reserved/);
      return true;
    },
  );
  assert.throws(() => planBuild({ files: [] }, { ConfigurationSource: 'API' }), /needs CodeConfigurationValues/);
});

test('detected Node.js project: Node.js 22, npm ci with a lock file, npm start', () => {
  const plan = generated(planBuild({ files: ['package.json', 'package-lock.json', 'index.js'] }, REPOSITORY));
  assert.equal(plan.origin, 'detected');
  assert.equal(plan.runtime.apiName, 'NODEJS_22');
  assert.deepEqual(lines(plan).filter((l) => l.startsWith('RUN ')).map((l) => execArgv(l, 'RUN').at(-1)), ['npm ci', 'npm run build --if-present']);
  assert.equal(lines(plan).at(-1), 'CMD ["/bin/sh","-c","npm start"]');
  const withoutLock = generated(planBuild({ files: ['package.json'] }, REPOSITORY));
  assert.ok(withoutLock.dockerfile.includes('RUN ["/bin/sh","-c","npm install"]'));
});

test('detected Python project: Python 3.11, pip3 at build and again in pre-run, python3 app.py', () => {
  const plan = generated(planBuild({ files: ['requirements.txt', 'app.py'] }, REPOSITORY));
  assert.equal(plan.runtime.apiName, 'PYTHON_311');
  const text = lines(plan);
  const runStage = text.indexOf('FROM python:3.11-slim-bookworm AS run');
  assert.ok(runStage > 0);
  const install = 'RUN ["/bin/sh","-c","pip3 install -r requirements.txt"]';
  assert.ok(text.indexOf(install) < runStage && text.lastIndexOf(install) > runStage, 'installed in both stages');
  assert.equal(text.at(-1), 'CMD ["/bin/sh","-c","python3 app.py"]');
  assert.match(generated(planBuild({ files: ['requirements.txt', 'main.py'] }, REPOSITORY)).dockerfile, /"python3 main.py"/);
  assert.throws(() => planBuild({ files: ['requirements.txt'] }, REPOSITORY), /neither app\.py nor main\.py/);
});

test('nothing to go on: the error lists what Berth looks for', () => {
  assert.throws(() => planBuild({ files: ['README.md'] }, REPOSITORY), (error: unknown) => {
    assert.ok(error instanceof BerthError);
    assert.match(error.message, /apprunner\.yaml, then Dockerfile, then package\.json \(Node\.js\), then requirements\.txt \(Python\).*found: README\.md/);
    return true;
  });
  assert.throws(() => planBuild({ files: ['package.json', 'requirements.txt'] }, REPOSITORY), /both package\.json and requirements\.txt/);
});

test('os-packages images are used when given', () => {
  const { images } = osPackagesRuntimeImages();
  const plan = generated(planBuild({ files: ['package.json'] }, REPOSITORY, images));
  assert.deepEqual(lines(plan).filter((l) => l.startsWith('FROM ')), ['FROM berth-runtime/nodejs22:bookworm AS build', 'FROM berth-runtime/nodejs22:bookworm AS run']);
});

const HOSTILE = [
  'echo "quoted" \'single\' && echo done',
  'echo $HOME ${PATH} $(id) `id`',
  'printf "a\\\\b\\n" # backslashes',
  '"]\nRUN rm -rf /',
  'x"] ; RUN ["/bin/sh","-c","id',
];

test('hostile commands stay one argument of sh -c', () => {
  for (const command of HOSTILE.filter((c) => !c.includes('\n'))) {
    const line = runInstruction(command);
    assert.ok(!line.includes('\n'));
    assert.deepEqual(execArgv(line, 'RUN'), ['/bin/sh', '-c', command]);
  }
  const yaml = `version: 1.0\nruntime: nodejs22\nbuild:\n  commands:\n    build:\n      - ${JSON.stringify(HOSTILE[4])}\nrun:\n  command: ${JSON.stringify(HOSTILE[1])}\n`;
  const plan = generated(planBuild({ files: [], apprunnerYaml: yaml }, REPOSITORY));
  assert.equal(lines(plan).filter((l) => l.startsWith('RUN')).length, 1);
  assert.deepEqual(execArgv(lines(plan).at(-1) ?? '', 'CMD'), ['/bin/sh', '-c', HOSTILE[1]]);
});

test('commands with line breaks are refused', () => {
  assert.throws(() => runInstruction('echo a\nRUN rm -rf /'), /spans several lines/);
  assert.throws(
    () => planBuild({ files: [] }, { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_22', StartCommand: 'node a.js\nRUN id' } }),
    /spans several lines/,
  );
});

test('hostile environment values are escaped for ENV and passed whole through env', () => {
  const values = ['say "hi"', 'C:\\path\\', '$HOME ${X} \\$Y', 'trailing \\', "it's", '"; RUN id; "'];
  for (const value of values) {
    const line = envInstruction('V', value);
    assert.equal(envValue(line, 'V'), value, line);
    assert.deepEqual(execArgv(runInstruction('true', [{ name: 'V', value }]), 'RUN'), ['/usr/bin/env', `V=${value}`, '/bin/sh', '-c', 'true']);
  }
  assert.equal(envInstruction('V', 'a"b$c\\d'), 'ENV V="a\\"b\\$c\\\\d"');
  assert.throws(() => envInstruction('V', 'line1\nline2'), /line break/);
  assert.throws(
    () => planBuild({ files: [] }, { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_22', StartCommand: 'x', RuntimeEnvironmentVariables: { KEY: '-----BEGIN\nKEY' } } }),
    /'KEY' contains a line break/,
  );
  const plan = generated(planBuild({ files: [] }, { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_22', StartCommand: 'x', RuntimeEnvironmentVariables: { Q: values[0] ?? '' } } }));
  assert.ok(plan.dockerfile.includes('ENV Q="say \\"hi\\""\n'));
});
