// A module resolution hook (registered by scripts/rdbss.mjs when it runs the sources): resolve `rdbss-emulator`
// with the "source" export condition too, so it means emulator/index.ts rather than the built dist/index.mjs.
// Other packages resolve as always.
export async function resolve(specifier, context, nextResolve) {
  if (specifier !== "rdbss-emulator" && !specifier.startsWith("rdbss-emulator/"))
    return nextResolve(specifier, context);
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, "source"] });
}
