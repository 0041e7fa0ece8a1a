/**
 * apprunner.yaml: the two examples of app-runner-api.md §4.2, and invalid files, each checked for
 * the line, column and rule its message names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BerthError } from '../../src/core/errors.ts';
import { checkApprunnerYaml, parseApprunnerYaml } from '../../src/core/build/apprunner-yaml.ts';
import { runtimeByApiName } from '../../src/core/build/managed-runtimes.ts';

const MINIMAL = `version: 1.0
runtime: nodejs22
build:
  commands:
    build:
      - npm ci
      - npm run build
run:
  command: node dist/server.js
`;

const FULL = `version: 1.0
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
  runtime-version: 3.11
  pre-run: [ "pip3 install -r requirements.txt" ]   # revised build: global installs redone here
  command: python3 app.py
  network: { port: 8000, env: APP_PORT }
  env:
    - name: LOG_LEVEL
      value: info
  secrets:
    - name: DB_PASSWORD
      value-from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::"
    - name: API_KEY
      value-from: "my-ssm-parameter-name"
`;

test('the minimal example of §4.2', () => {
  assert.deepEqual(parseApprunnerYaml(MINIMAL), {
    version: '1.0',
    runtime: runtimeByApiName('NODEJS_22'),
    build: { preBuild: [], build: ['npm ci', 'npm run build'], postBuild: [], env: [] },
    run: { preRun: [], command: 'node dist/server.js', port: 8080, env: [], secrets: [] },
  });
});

test('the full example of §4.2', () => {
  assert.deepEqual(parseApprunnerYaml(FULL), {
    version: '1.0',
    runtime: runtimeByApiName('PYTHON_311'),
    build: {
      preBuild: ['echo prepare'],
      build: ['pip3 install -r requirements.txt'],
      postBuild: ['python3 -m pytest -q'],
      env: [{ name: 'BUILD_FLAG', value: '1' }],
    },
    run: {
      runtimeVersion: '3.11',
      preRun: ['pip3 install -r requirements.txt'],
      command: 'python3 app.py',
      port: 8000,
      portEnv: 'APP_PORT',
      env: [{ name: 'LOG_LEVEL', value: 'info' }],
      secrets: [
        { name: 'DB_PASSWORD', valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::' },
        { name: 'API_KEY', valueFrom: 'my-ssm-parameter-name' },
      ],
    },
  });
});

test('version as the string "1.0", runtime-version as written (3.10 is not 3.1), numbers as env values', () => {
  const text = MINIMAL.replace('version: 1.0', 'version: "1.0"').replace('run:\n', 'run:\n  runtime-version: 3.10\n  env:\n    - {name: N, value: 10}\n    - {name: B, value: true}\n');
  const definition = parseApprunnerYaml(text);
  assert.equal(definition.run.runtimeVersion, '3.10');
  assert.deepEqual(definition.run.env, [{ name: 'N', value: '10' }, { name: 'B', value: 'true' }]);
});

/** [name, file text, line, column, a fragment of the rule] */
const INVALID: [string, string, number, number, string][] = [
  ['build.commands.build missing', MINIMAL.replace('    build:\n      - npm ci\n      - npm run build\n', '    pre-build: [a]\n'), 5, 5, "'build.commands.build' is required: list the commands that build the app"],
  ['version missing', MINIMAL.replace('version: 1.0\n', ''), 1, 1, "'version' is required: write version: 1.0"],
  ['version 2.0', MINIMAL.replace('version: 1.0', 'version: 2.0'), 1, 10, "'version' must be 1.0"],
  ['version "1"', MINIMAL.replace('version: 1.0', 'version: "1"'), 1, 10, "'version' must be 1.0"],
  ['runtime missing', MINIMAL.replace('runtime: nodejs22\n', ''), 1, 1, "'runtime' is required"],
  ['unknown runtime', MINIMAL.replace('nodejs22', 'nodejs20'), 2, 10, "'runtime' 'nodejs20' is not a managed runtime; allowed: python3, python311, nodejs12"],
  ['API runtime name in the file', MINIMAL.replace('nodejs22', 'NODEJS_22'), 2, 10, 'is not a managed runtime'],
  ['runtime as a list', MINIMAL.replace('runtime: nodejs22', 'runtime: [nodejs22]'), 2, 10, "'runtime' must be a non-empty string, got a list"],
  ['unknown top-level key', `${MINIMAL}memory: 2GB\n`, 10, 1, "unknown key 'memory' at the top level; allowed keys: version, runtime, build, run"],
  ['unknown key in build', MINIMAL.replace('build:\n  commands:', 'build:\n  steps: 1\n  commands:'), 4, 3, "unknown key 'build.steps' in 'build'; allowed keys: commands, env"],
  ['unknown phase', MINIMAL.replace('    build:\n', '    install: [x]\n    build:\n'), 5, 5, "unknown key 'build.commands.install' in 'build.commands'; allowed keys: pre-build, build, post-build"],
  ['build missing', 'version: 1.0\nruntime: nodejs22\nrun:\n  command: x\n', 1, 1, "'build' is required"],
  ['build empty', 'version: 1.0\nruntime: nodejs22\nbuild:\nrun:\n  command: x\n', 3, 1, "'build' is required but has no value"],
  ['build.commands as a list', 'version: 1.0\nruntime: nodejs22\nbuild:\n  commands: [a]\nrun:\n  command: x\n', 4, 13, "'build.commands' must be a map"],
  ['build phase as a string', MINIMAL.replace('    build:\n      - npm ci\n      - npm run build\n', '    build: npm ci\n'), 5, 12, "'build.commands.build' must be a list of commands, got 'npm ci' (write it as a list: - npm ci)"],
  ['empty build list', MINIMAL.replace('    build:\n      - npm ci\n      - npm run build\n', '    build: []\n'), 5, 12, "'build.commands.build' is empty"],
  ['command not a string', MINIMAL.replace('      - npm ci\n', '      - 42\n'), 6, 9, "'build.commands.build[0]' must be a non-empty string, got number '42'"],
  ['multi-line command', MINIMAL.replace('      - npm ci\n', '      - |\n        npm ci\n        rm -rf /\n'), 6, 9, "'build.commands.build[0]' must be one line"],
  ['run missing', 'version: 1.0\nruntime: nodejs22\nbuild:\n  commands:\n    build: [a]\n', 1, 1, "'run' is required: add run.command"],
  ['run.command missing', MINIMAL.replace('  command: node dist/server.js\n', '  network: {port: 3000}\n'), 9, 3, "'run.command' is required: give the command that starts the app"],
  ['run.command empty', MINIMAL.replace('  command: node dist/server.js', '  command: ""'), 9, 12, "'run.command' must be a non-empty string"],
  ['port out of range', MINIMAL.replace('run:\n', 'run:\n  network:\n    port: 70000\n'), 10, 11, "'run.network.port' must be a whole number from 1 to 65535, got number '70000'"],
  ['port as a string', MINIMAL.replace('run:\n', 'run:\n  network:\n    port: "8000"\n'), 10, 11, "'run.network.port' must be a whole number from 1 to 65535, got '8000'"],
  ['port not whole', MINIMAL.replace('run:\n', 'run:\n  network: {port: 80.5}\n'), 9, 19, "'run.network.port' must be a whole number"],
  ['unknown network key', MINIMAL.replace('run:\n', 'run:\n  network: {host: 0.0.0.0}\n'), 9, 13, "unknown key 'run.network.host' in 'run.network'; allowed keys: port, env"],
  ['network.env PORT', MINIMAL.replace('run:\n', 'run:\n  network: {env: PORT}\n'), 9, 18, "'PORT' is reserved"],
  ['bad env name', MINIMAL.replace('run:\n', 'run:\n  env:\n    - name: MY-VAR\n      value: x\n'), 10, 13, "'run.env[0].name': 'MY-VAR' is not a valid environment variable name"],
  ['reserved AWSAPPRUNNER name', MINIMAL.replace('run:\n', 'run:\n  env:\n    - name: AWSAPPRUNNER_X\n      value: x\n'), 10, 13, 'names starting with AWSAPPRUNNER belong to App Runner'],
  ['env PORT', MINIMAL.replace('build:\n  commands:', 'build:\n  env:\n    - name: PORT\n      value: "1"\n  commands:'), 5, 13, "'build.env[0].name': 'PORT' is reserved"],
  ['env as a map', MINIMAL.replace('run:\n', 'run:\n  env:\n    LOG: info\n'), 10, 5, "'run.env' must be a list of {name, value} entries, got a map"],
  ['env entry without value', MINIMAL.replace('run:\n', 'run:\n  env:\n    - name: A\n'), 10, 7, "'run.env[0].value' is required"],
  ['env entry with an extra key', MINIMAL.replace('run:\n', 'run:\n  env:\n    - {name: A, value: b, secret: true}\n'), 10, 27, "unknown key 'run.env[0].secret' in 'run.env[0]'; allowed keys: name, value"],
  ['env value with a line break', MINIMAL.replace('run:\n', 'run:\n  env:\n    - name: A\n      value: "x\\ny"\n'), 11, 14, "'run.env[0].value' contains a line break"],
  ['duplicate env name', MINIMAL.replace('run:\n', 'run:\n  env:\n    - {name: A, value: b}\n    - {name: A, value: c}\n'), 11, 14, "'run.env' lists 'A' twice"],
  ['secret and env with one name', MINIMAL.replace('run:\n', 'run:\n  env:\n    - {name: A, value: b}\n  secrets:\n    - {name: A, value-from: p}\n'), 12, 7, "'run.secrets' sets 'A', which run.env sets already"],
  ['secret with value instead of value-from', MINIMAL.replace('run:\n', 'run:\n  secrets:\n    - {name: A, value: b}\n'), 10, 17, "unknown key 'run.secrets[0].value' in 'run.secrets[0]'; allowed keys: name, value-from"],
  ['secret from a malformed ARN', MINIMAL.replace('run:\n', 'run:\n  secrets:\n    - {name: A, value-from: "arn:aws:s3:::bucket"}\n'), 10, 29, "'run.secrets[0].value-from' 'arn:aws:s3:::bucket' is neither a Secrets Manager secret ARN"],
  ['pre-run with an original-build runtime', MINIMAL.replace('nodejs22', 'nodejs16').replace('run:\n', 'run:\n  pre-run: [x]\n'), 9, 3, "'run.pre-run' works only with revised-build runtimes (python311, nodejs18, nodejs22); runtime 'nodejs16'"],
  ['bad runtime-version', MINIMAL.replace('run:\n', 'run:\n  runtime-version: latest\n'), 9, 20, "'run.runtime-version' must be major[.minor[.patch]]"],
  ['four-part runtime-version', MINIMAL.replace('run:\n', 'run:\n  runtime-version: 1.2.3.4\n'), 9, 20, "'run.runtime-version' must be major[.minor[.patch]]"],
  ['duplicate key', `${MINIMAL}runtime: python311\n`, 10, 1, 'not valid YAML: Map keys must be unique'],
  ['broken YAML', MINIMAL.replace('      - npm ci', '      - "npm ci'), 10, 1, 'not valid YAML'],
  ['alias', MINIMAL.replace('run:\n  command: node dist/server.js', 'run:\n  command: &c node\n  env:\n    - {name: A, value: *c}'), 11, 24, 'uses a YAML alias'],
  ['a list at the top', '- version: 1.0\n', 1, 1, 'The file must be a map'],
  ['an empty file', '# nothing here\n', 1, 1, 'the file is empty'],
];

for (const [name, text, line, column, rule] of INVALID) {
  test(`invalid apprunner.yaml: ${name}`, () => {
    assert.throws(() => parseApprunnerYaml(text), (error: unknown) => {
      assert.ok(error instanceof BerthError);
      assert.equal(error.code, 'InvalidRequestException');
      const expected = `apprunner.yaml line ${line}, column ${column}: `;
      const hit = error.message.split('\n').find((m) => m.startsWith(expected) && m.includes(rule));
      assert.ok(hit !== undefined, `expected "${expected}…${rule}…" in:\n${error.message}`);
      return true;
    });
  });
}

test('every problem is reported, in file order, not only the first', () => {
  const text = 'version: 2\nruntime: java\nbuild:\n  commands:\n    build: []\nrun:\n  network: {port: 0}\n';
  const result = checkApprunnerYaml(text);
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.problems.map((p) => [p.line, p.column]), [[1, 10], [2, 10], [5, 12], [7, 3], [7, 19]]);
  assert.match(result.problems[3]?.message ?? '', /'run.command' is required/);
});
