/**
 * The catalogue as Markdown, for docs/CHECKS.md (test/verifier/catalogue.test.ts checks that the document carries
 * these tables as they are generated here; `node --import=tsx scripts/checks-doc.ts` prints them).
 */
import { bugCheckName, hex64 } from "../kernel/index.js";
import { CATALOGUE, CHECK_SWITCHES, type CheckEntry, type CheckSwitch, DEFAULT_MODES } from "./catalogue.js";

/** "0x27 RDR_FILE_SYSTEM / 0xA55A0005", "deadlock report", "none". */
export function codeText(e: CheckEntry): string {
  if (e.code === "deadlock") return "deadlock report";
  if (e.code === "none") return "— (no stop)";
  const head = `0x${e.code.toString(16).toUpperCase()} ${bugCheckName(e.code)}`;
  if (e.p1 === undefined) return head;
  const p = hex64(e.p1).replace(/^0x0+(?=.)/, "0x");
  return `${head} / ${p}`;
}

function anchor(id: string): string {
  return id.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

/** One row per entry: id, switch, stop, what it catches, the §8 patterns. */
export function catalogueTable(): string {
  const rows = [
    "| id | switch | stop (code / parameter 1) | what it catches | patterns |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const e of CATALOGUE) {
    rows.push(
      `| [\`${e.id}\`](#${anchor(e.id)}) | ${e.check ? `\`${e.check}\`` : "always"} | ${codeText(e)} | ${e.title.replace(/\|/g, "\\|")} | ${(e.patterns ?? []).join(", ")} |`,
    );
  }
  return rows.join("\n");
}

/** One row per switch: its default and what it covers. */
export function defaultsTable(): string {
  const rows = ["| switch | default | covers |", "| --- | --- | --- |"];
  for (const [name, what] of Object.entries(CHECK_SWITCHES) as [CheckSwitch, string][]) {
    rows.push(`| \`${name}\` | ${DEFAULT_MODES[name]} | ${what.replace(/\|/g, "\\|")} |`);
  }
  return rows.join("\n");
}

/** A section per entry. */
export function catalogueSections(): string {
  const out: string[] = [];
  for (const e of CATALOGUE) {
    out.push(`### ${e.id}`);
    out.push("");
    out.push(`**${e.title}.**`);
    out.push("");
    out.push(`- **Stop:** ${codeText(e)}`);
    out.push(`- **Parameters:** 1: ${e.params[0]}; 2: ${e.params[1]}; 3: ${e.params[2]}; 4: ${e.params[3]}`);
    out.push(`- **Trigger:** ${e.trigger}`);
    out.push(`- **Explanation printed:** ${e.explanation.replace(/\n/g, " ")}`);
    out.push(
      `- **Switch:** ${
        e.check
          ? `\`${e.check}\` (default ${DEFAULT_MODES[e.check]}): \`setup.checks: { ${e.check}: record }\`, \`rdbss run --check ${e.check}=off\`, \`createEmulator({ checks: { ${e.check}: "stop" } })\``
          : "none — it always stops, as in Windows"
      }`,
    );
    if (e.patterns) out.push(`- **Patterns (rdbss-semantics §8):** ${e.patterns.join(", ")}`);
    out.push(`- **Fixture:** ${e.fixture ? `[${e.fixture}](../${e.fixture})` : `none (${e.noFixture ?? ""})`}`);
    out.push(`- **Tests:** ${e.tests.map((t) => `\`${t}\``).join(", ")}`);
    if (e.compare) out.push(`- **Compared:** ${e.compare}`);
    out.push("");
  }
  return out.join("\n");
}
