#!/usr/bin/env node
// The `racelint` command of the npm package: finds the binary that the platform
// package for this machine (`@racelint/cli-<platform>-<arch>`, an optional
// dependency npm installs only where it fits) carries, and runs it with the same
// arguments, stdio and exit code. `RACELINT_BINARY` points at another binary.
"use strict";

const { spawnSync } = require("child_process");
const path = require("path");

function binaryPath() {
  if (process.env.RACELINT_BINARY) {
    return process.env.RACELINT_BINARY;
  }
  const pkg = `@racelint/cli-${process.platform}-${process.arch}`;
  const exe = process.platform === "win32" ? "racelint.exe" : "racelint";
  try {
    const manifest = require.resolve(`${pkg}/package.json`);
    return path.join(path.dirname(manifest), "bin", exe);
  } catch (_) {
    process.stderr.write(
      `racelint: no binary for ${process.platform}-${process.arch}: the package ${pkg} ` +
        "is not installed.\n" +
        "It is an optional dependency of racelint; reinstall without --no-optional " +
        "(or --omit=optional), or set RACELINT_BINARY to a racelint binary.\n"
    );
    process.exit(2);
  }
}

const result = spawnSync(binaryPath(), process.argv.slice(2), { stdio: "inherit" });
if (result.error) {
  process.stderr.write(`racelint: cannot run ${binaryPath()}: ${result.error.message}\n`);
  process.exit(2);
}
if (result.signal) {
  process.kill(process.pid, result.signal);
}
process.exit(result.status === null ? 2 : result.status);
