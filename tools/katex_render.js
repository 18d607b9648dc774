// Render TeX to MathML with KaTeX, at build time (hooks/maths.py).
// stdin: JSON [[tex, displayMode], ...]; stdout: JSON [markup, ...].
// An error in any formula fails the build.
"use strict";
const path = require("path");
const katex = require(path.join(__dirname, "vendor", "katex", "katex.min.js"));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(([tex, displayMode]) =>
    katex.renderToString(tex, { displayMode, throwOnError: true, strict: "error", output: "mathml" }),
  );
  process.stdout.write(JSON.stringify(out));
});
