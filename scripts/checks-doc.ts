/**
 * Print the generated parts of docs/CHECKS.md (the catalogue table, the defaults table and a section per check),
 * from emulator/verifier. test/verifier/catalogue.test.ts fails when the document and the catalogue disagree.
 *
 *   node --import=tsx scripts/checks-doc.ts [table|defaults|sections]
 */
import { catalogueSections, catalogueTable, defaultsTable } from "../emulator/verifier/index.js";

const which = process.argv[2];
const parts: Record<string, () => string> = {
  table: catalogueTable,
  defaults: defaultsTable,
  sections: catalogueSections,
};
if (which !== undefined && parts[which]) process.stdout.write(`${(parts[which] as () => string)()}\n`);
else for (const f of Object.values(parts)) process.stdout.write(`${f()}\n\n`);
