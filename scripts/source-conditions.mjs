// A module resolution hook (registered by scripts/rdbss.mjs when it runs the sources): resolve package exports with
// the "source" condition too, so `rdbss-emulator` means emulator/index.ts rather than the built dist/index.mjs.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, "source"] });
}
