// The webhook's floor, run by hand (docs/performance-notes.md, "The webhook's
// memory against its floors"): an admission webhook that does nothing but
// TLS, read the body, JSON.parse it and answer a fixed patch; under Bun with
// node:https (MODE unset) or Bun.serve's native TLS (MODE=serve), or under
// Node. Set beside `iqqq webhook` under the Go load client of
// `npm run bench:webhook` (build/webhook-load/webhook-load), it says how much
// of the webhook's peak memory is the runtime's own under that load.
//
//   bun bench/floor/webhook.mjs CERT KEY PORT     (MODE=serve: Bun.serve)
//   node bench/floor/webhook.mjs CERT KEY PORT
import { readFileSync } from "node:fs";
import { createServer } from "node:https";

const [cert, key, port] = process.argv.slice(2);
/** About the size of the patch iqqq answers a pod with. */
const patch = Buffer.from(
  JSON.stringify([{ op: "add", path: "/metadata/annotations", value: { x: "y".repeat(2000) } }]),
).toString("base64");
const answer = (text) => {
  const review = JSON.parse(text);
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid: review.request.uid, allowed: true, patchType: "JSONPatch", patch },
  });
};
if (process.env.MODE === "serve") {
  Bun.serve({
    port: Number(port),
    hostname: "127.0.0.1",
    tls: { cert: readFileSync(cert), key: readFileSync(key) },
    async fetch(request) {
      return new Response(answer(await request.text()), { headers: { "content-type": "application/json" } });
    },
  });
} else {
  createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const out = answer(Buffer.concat(chunks).toString());
      response.writeHead(200, { "content-type": "application/json" });
      response.end(out);
    });
  }).listen(Number(port), "127.0.0.1");
}
process.stderr.write("listening\n");
