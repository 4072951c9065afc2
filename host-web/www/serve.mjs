// A tiny static server on 127.0.0.1 for the pages in this folder (the OPFS
// needs an http origin: file:// has none), with one write endpoint for the
// tests: POST /report/NAME stores the body as NAME in the reports folder.
//
//   node host-web/www/serve.mjs [port]      then open http://127.0.0.1:PORT/
//
// The wasm bindings are expected in ./pkg (test.sh and the README build them).
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".jsonl": "text/plain; charset=utf-8",
  ".css": "text/css",
};

/** Serves `root` (and `extra`, a map of URL path -> file) on 127.0.0.1:`port`
 * (0: any free port); reports go to `reports` and to `onReport(name, body)`. */
export function serve({ port = 0, root = here, extra = {}, reports = null, onReport = () => {} } = {}) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (req.method === "POST" && url.pathname.startsWith("/report/")) {
      const name = path.basename(url.pathname.slice("/report/".length));
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        if (reports) fs.writeFileSync(path.join(reports, name), body);
        res.writeHead(204).end();
        onReport(name, body);
      });
      return;
    }
    const file = extra[url.pathname] ?? path.join(root, path.normalize(url.pathname === "/" ? "/index.html" : url.pathname));
    if (!extra[url.pathname] && !file.startsWith(root)) return res.writeHead(403).end();
    fs.readFile(file, (err, data) => {
      if (err) return res.writeHead(404).end("not found");
      res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      res.end(data);
    });
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await serve({ port: Number(process.argv[2] ?? 8123) });
  console.log(`serving ${here} on http://127.0.0.1:${server.address().port}/ (Ctrl-C stops)`);
}
