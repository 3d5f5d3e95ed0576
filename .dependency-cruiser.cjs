// The layer rules of docs/architecture.md. Imports go down only:
//   wiring (server/app.ts, main.ts, cli) -> edges -> domain -> engines, storage -> kernel
// `npm run lint` runs this; a violation or a cycle fails CI.
const KERNEL = '^(server/kernel/|signaling/protocol/)';
const WIRE = '^signaling/protocol/';
const STORAGE = '^server/storage/';
const ENGINES = '^(sfu|recording)/';
const DOMAIN = '^server/domain/';
const EDGES = '^(server/edges/|signaling/[^/]+$)';
const WIRING = '^server/(app|main)\\.ts$|^server/cli/';

/** `from` may import only what `allowed` matches (plus npm packages and Node). */
const only = (name, comment, from, allowed) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: {
    pathNot: [allowed, '^node_modules', '^(node:)?[a-z_]+$'].join('|'),
    dependencyTypesNot: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown', 'undetermined'],
  },
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A cycle makes two modules one; cut it with an interface or an event.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    only('kernel-imports-kernel', 'The kernel (errors, logging, config, the wire catalog) imports nothing else of ours.', KERNEL, KERNEL),
    only('storage-imports-kernel', 'Stores know tables, not rooms.', STORAGE, `${KERNEL}|${STORAGE}`),
    only('sfu-knows-no-rooms', 'The SFU engine knows mediasoup, not rooms, roles, the wire or webhooks.', '^sfu/', '^sfu/|^server/kernel/'),
    only(
      'recording-knows-no-rooms',
      'The recording engine runs ffmpeg on SFU tracks; it knows no rooms, roles, wire or webhooks.',
      '^recording/',
      '^recording/|^sfu/|^server/kernel/',
    ),
    only(
      'domain-calls-down',
      'The domain uses engines, storage and the kernel; it never calls an edge.',
      DOMAIN,
      `${DOMAIN}|${ENGINES}|${STORAGE}|${KERNEL}`,
    ),
    only(
      'edges-call-the-domain',
      'Edges translate the wire and call the domain (and the kernel); they never drive an engine themselves.',
      EDGES,
      `${EDGES}|${DOMAIN}|${STORAGE}|${KERNEL}`,
    ),
    only(
      'clients-speak-the-protocol',
      'Clients share only the wire catalog with the server.',
      '^clients/',
      `^clients/|${WIRE}|^server/kernel/(errors|media)\\.ts$`,
    ),
    {
      name: 'nothing-imports-wiring',
      comment: 'app.ts, main.ts and the CLIs assemble the layers; no layer depends on them.',
      severity: 'error',
      from: { pathNot: `^(test|bench)/|${WIRING}` },
      to: { path: WIRING },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'types', 'default'],
    },
  },
};
