// Berth's layers (docs: house-style.md, "Distilled for Berth" 1), checked by `npm run layers`
// and in CI. Imports point one way only:
//
//   src/main     composition roots: may import everything; nothing imports them
//   src/edges    API server, router, CLI: core, control and adapters; not another edge
//   src/control  API operations, reconciler: core only
//   src/adapters store, runtimes, builder, issuer: core only, and not another adapter
//   src/core     domain, errors, state machines: nothing outside core, and no I/O
//
// Paths are relative to the directory dependency-cruiser runs in (the repository root).
// `$1` in a `to` pattern is the folder captured by the `from` pattern, which is how "its own
// folder, not another one" is written.

/** Node built-ins that do I/O (or start threads/processes); core must stay pure. */
const IO_MODULES = [
  'fs', 'net', 'http', 'https', 'http2', 'child_process', 'dgram', 'dns', 'tls', 'sqlite',
  'worker_threads', 'cluster', 'readline', 'os',
];
const builtinPattern = (names) => `^(node:)?(${names.join('|')})(/|$)`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make load order matter and blur which module owns what. Break the cycle by moving the shared part down a layer.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'src/core is the bottom layer: it may import only other core files. Move the needed code into core, or invert the dependency with an interface in core.',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'core-does-no-io',
      severity: 'error',
      comment: 'src/core does no I/O: file system, network, processes and databases belong in an adapter behind an interface declared in core. node:crypto and other pure modules are fine.',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'], path: builtinPattern(IO_MODULES) },
    },
    {
      name: 'core-no-http-client',
      severity: 'error',
      comment: 'src/core does no I/O, so it has no use for an HTTP client library.',
      from: { path: '^src/core/' },
      to: { path: '(^|/)node_modules/undici/' },
    },
    {
      name: 'adapter-imports-core-and-own-folder',
      severity: 'error',
      comment: 'An adapter may import core and files in its own folder only (src/adapters/docker must not import src/adapters/tls). Shared types go into core; wiring adapters together is the composition root\'s job (src/main).',
      from: { path: '^src/adapters/([^/]+)' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/adapters/$1(/|$)'] },
    },
    {
      name: 'control-imports-only-core',
      severity: 'error',
      comment: 'src/control (API operations, reconciler) may import core and other control files only; it reaches adapters through interfaces in core that src/main fills in.',
      from: { path: '^src/control/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/control/'] },
    },
    {
      name: 'edge-imports-lower-layers-and-own-folder',
      severity: 'error',
      comment: 'An edge (src/edges/api, src/edges/router, src/edges/cli, ...) may import core, control, adapters and its own folder, not another edge. Move what two edges share down into core or control.',
      from: { path: '^src/edges/([^/]+)' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/control/', '^src/adapters/', '^src/edges/$1(/|$)'] },
    },
    {
      name: 'nothing-imports-main',
      severity: 'error',
      comment: 'src/main holds the composition roots (one per executable); they import everything and are imported by nothing outside src/main.',
      from: { pathNot: '^src/main/' },
      to: { path: '^src/main/' },
    },
    {
      name: 'src-no-dev-dependencies',
      severity: 'error',
      comment: 'src ships to users, devDependencies do not (npm ci --omit=dev). Move the package to "dependencies" or keep it out of src.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'src-only-declared-packages',
      severity: 'error',
      comment: 'src may only import packages declared in package.json "dependencies": a package that is only there because another one depends on it can vanish on any update.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'This import does not resolve to a file: a typo, a missing .ts extension or a package that is not installed.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Count `import type` too: a type-only import from an upper layer still couples the layers.
    tsPreCompilationDeps: true,
    // Lets the resolver understand the `.ts` import specifiers that Node's type stripping needs.
    tsConfig: { fileName: 'tsconfig.json' },
    // Resolve packages the way Node does at run time (their `exports` "import"/"node" entries).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default'],
    },
  },
};
