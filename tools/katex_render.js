// Render TeX to MathML with KaTeX, at build time (hooks/maths.py).
// stdin: JSON [[tex, displayMode], ...]; stdout: JSON [markup, ...].
// An error in any formula fails the build: each one is reported on stderr (KaTeX's
// message and the TeX), and nothing is written to stdout. (Left uncaught, the error
// printed 64 KB of KaTeX's minified source first, and the message was cut off.)
"use strict";
const path = require("path");
const katex = require(path.join(__dirname, "vendor", "katex", "katex.min.js"));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const errors = [];
  const out = JSON.parse(input).map(([tex, displayMode]) => {
    try {
      return katex.renderToString(tex, { displayMode, throwOnError: true, strict: "error", output: "mathml" });
    } catch (err) {
      errors.push(`${err.message}\n  in: ${tex}`);
      return null;
    }
  });
  if (errors.length) {
    process.stderr.write(errors.join("\n") + "\n");
    process.exitCode = 1;
    return;
  }
  process.stdout.write(JSON.stringify(out));
});
