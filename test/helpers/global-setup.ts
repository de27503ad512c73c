// Before any test file: compiles the CLI, so the tests that spawn `bin/tidepool.mjs` run what the sources say.
export default async function setup(): Promise<void> {
  // @ts-expect-error: a plain .mjs build script, without type declarations
  const { buildCli } = (await import('../../scripts/build-cli.mjs')) as { buildCli: () => Promise<unknown> };
  await buildCli();
}
