// Import rules of the source floors (docs/layout.md): protocol/ at the bottom, platform/ and runtime/ on it
// and never on each other, cli/ on top. `npm run deps` checks them, and `npm test` runs it.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle makes load order matter and hides which module owns what.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'protocol-is-the-ground-floor',
      severity: 'error',
      comment: 'protocol/ imports nothing of the project above it.',
      from: { path: '^protocol/' },
      to: { path: '^(platform|runtime|cli|dashboard|test|scripts|bin)/' },
    },
    {
      name: 'platform-not-runtime',
      severity: 'error',
      comment: 'The control plane reaches a node only through protocol/ (docs/layout.md).',
      from: { path: '^platform/' },
      to: { path: '^(runtime|cli|test|scripts|bin)/' },
    },
    {
      name: 'runtime-not-platform',
      severity: 'error',
      comment: 'The node runtime reaches the control plane only through protocol/ (docs/layout.md).',
      from: { path: '^runtime/' },
      to: { path: '^(platform|cli|test|scripts|bin)/' },
    },
    {
      name: 'cli-is-the-top',
      severity: 'error',
      comment: 'Nothing below the composition root imports it.',
      from: { path: '^(protocol|platform|runtime|dashboard)/' },
      to: { path: '^cli/' },
    },
    {
      name: 'dashboard-reads-types-only',
      severity: 'error',
      comment: 'The browser bundle shares wire types with the server (protocol/, *-types.ts), never its code.',
      from: { path: '^dashboard/' },
      to: { path: '^(platform|runtime|protocol|cli)/', pathNot: '^protocol/|-types[.]ts$' },
    },
    {
      name: 'domain-below-the-edge',
      severity: 'error',
      comment: 'Control-plane domain modules throw coded errors and know nothing of HTTP; only api/ and the composition root see routes.',
      from: { path: '^platform/(functions|db|storage|models|quota|ops|auth|router)/' },
      to: { path: '^platform/api/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // The swc parser reads no JSX: the dashboard's .tsx views are left out (they import only dashboard/src).
    exclude: { path: ['^(node_modules|cuda|dist|dashboard/dist)/', '[.]tsx$'] },
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
