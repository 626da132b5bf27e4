/**
 * `rdbss`: the command line. Exit codes: 0 success, 1 a run failed or found a bug, 2 bad input.
 */
import { parseArgs } from "node:util";
import { createLogger, isLogLevel } from "../emulator/trace/index.js";
import { runDemo } from "./demo.js";

const HELP = `rdbss — a deterministic emulator of the Windows I/O manager, RDBSS and network mini-redirectors

Usage:
  rdbss demo [--seed N] [--strategy fifo|random] [--log-level L]
      Run the built-in demonstration of the kernel and I/O manager.
  rdbss help
      Show this text.

Options:
  --seed N          seed for the scheduler and every other seeded choice (default 1)
  --strategy S      scheduling strategy: fifo (default) or random
  --log-level L     trace, debug, info, warn (default), error, fatal, silent — logs go to stderr
`;

function fail(message: string): never {
  process.stderr.write(`rdbss: ${message}\n\n${HELP}`);
  process.exit(2);
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        seed: { type: "string" },
        strategy: { type: "string" },
        "log-level": { type: "string", short: "l" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  const { values, positionals } = parsed;
  const command = positionals[0] ?? "help";
  const level = String(values["log-level"] ?? "warn");
  if (!isLogLevel(level)) fail(`unknown log level "${level}"`);
  const log = createLogger(level);
  if (values.help || command === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  const seedText = String(values.seed ?? "1");
  const seed = Number(seedText);
  if (!Number.isSafeInteger(seed) || seed < 0) fail(`--seed must be a non-negative integer, got "${seedText}"`);
  const strategy = String(values.strategy ?? "fifo");
  if (strategy !== "fifo" && strategy !== "random") fail(`--strategy must be fifo or random, got "${strategy}"`);
  switch (command) {
    case "demo":
      log.debug({ seed, strategy }, "starting demo");
      return runDemo({ seed, strategy, out: (l) => process.stdout.write(`${l}\n`) });
    default:
      fail(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`rdbss: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
