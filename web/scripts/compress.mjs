// After `vite build`: write a .gz twin of each text asset (served when the browser takes gzip)
// and print the first load's compressed JavaScript, which the budget (250 KB) is about.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, extname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const out = fileURLToPath(new URL("../../src/townsquare/web/", import.meta.url));
const TEXT = new Set([".js", ".css", ".html", ".svg", ".json", ".webmanifest"]);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const sizes = {};
for (const path of walk(out)) {
  if (!TEXT.has(extname(path))) continue;
  const gz = gzipSync(readFileSync(path), { level: 9 });
  sizes[path.slice(out.length)] = gz.length;
  if (statSync(path).size > 512) writeFileSync(`${path}.gz`, gz);
}

const html = readFileSync(join(out, "index.html"), "utf8");
const firstLoad = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
const jsGzip = firstLoad.reduce((sum, f) => sum + sizes[f], 0);
console.log(JSON.stringify({ first_load_js: firstLoad, first_load_js_gzip_bytes: jsGzip, budget_bytes: 250 * 1024 }));
