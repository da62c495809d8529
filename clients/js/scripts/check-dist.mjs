// Fails when the committed dist/ is not what tsc makes of src/ now. dist/ is committed so that
// the chat example can serve the client with no build step; this check (the first step of
// `npm test`, before the build overwrites dist/) keeps a stale copy from landing.
//
// It compiles src/ with the package's own tsconfig into a temporary directory and compares the
// two trees file by file, byte for byte, in both directions (a file dist/ lacks, or one tsc no
// longer makes, is stale too).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const STALE = "clients/js/dist is stale: run npm run build in clients/js and commit dist/";

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(packageDir, "dist");
const fresh = mkdtempSync(path.join(tmpdir(), "nestgate-client-dist-"));

try {
  compile(fresh);
  const problems = compare(dist, fresh);
  if (problems.length > 0) {
    console.error(STALE);
    for (const problem of problems) console.error(`  ${problem}`);
    process.exitCode = 1;
  } else {
    console.log("clients/js/dist matches src/");
  }
} finally {
  rmSync(fresh, { recursive: true, force: true });
}

/** Runs the package's tsc over src/ with `outDir` moved to `outDir`. */
function compile(outDir) {
  // The package's own TypeScript (a devDependency), not whatever `tsc` is on the PATH.
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.json", "--outDir", outDir], {
    cwd: packageDir,
    stdio: "inherit",
  });
}

/** What differs between the committed tree and the fresh one, one line each. */
function compare(committed, expected) {
  const have = new Set(files(committed));
  const want = new Set(files(expected));
  const problems = [];
  for (const file of [...want].sort()) {
    if (!have.has(file)) {
      problems.push(`missing: dist/${file}`);
    } else if (!readFileSync(path.join(committed, file)).equals(readFileSync(path.join(expected, file)))) {
      problems.push(`differs: dist/${file}`);
    }
  }
  for (const file of [...have].sort()) {
    if (!want.has(file)) problems.push(`not made by tsc from src/ (delete it): dist/${file}`);
  }
  return problems;
}

/** The files under `dir`, as paths relative to it with `/` separators; none if it is absent. */
function files(dir, prefix = "") {
  let entries;
  try {
    entries = readdirSync(path.join(dir, prefix), { withFileTypes: true });
  } catch (error) {
    if (error.code === "ENOENT") return [];
    throw error;
  }
  return entries.flatMap((entry) => {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? files(dir, relative) : [relative];
  });
}
