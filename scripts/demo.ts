// npm run demo: iqqq end to end against a simulated Istio sidecar on loopback.
// A job runs inside iqqq, exits, iqqq POSTs /quitquitquit, the sidecar stops.

import { spawn } from "node:child_process";
import { CLI, cliEnv } from "../test/support/cli.js";
import { startFakeSidecar } from "../test/support/fake-sidecar.js";

const dim = (s: string): string => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s: string): void => void process.stdout.write(`${dim("demo:")} ${s}\n`);

async function scenario(title: string, job: string): Promise<{ status: number | null; quitAfterMs: number | null }> {
  const sidecar = await startFakeSidecar({
    onRequest: (r) => say(`sidecar (simulated pilot-agent) got ${r.method} ${r.path} → 200 OK, exiting`),
  });
  say(`${title}`);
  say(`sidecar listening on 127.0.0.1:${sidecar.port}; running: iqqq sh -c '${job}'`);
  let programEnded = 0;
  const child = spawn(CLI, ["sh", "-c", `(${job}); s=$?; echo "job: exiting with status $s"; exit $s`], {
    env: cliEnv({ KUBERNETES_SERVICE_HOST: "10.96.0.1", ISTIO_PORT: String(sidecar.port), IQQQ_LOG_LEVEL: "debug" }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (c: Buffer) => {
    process.stdout.write(c);
    if (c.includes("job: exiting")) programEnded = Date.now();
  });
  child.stderr.on("data", (c: Buffer) => process.stdout.write(dim(c.toString())));
  const status = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const quit = sidecar.requests.find((r) => r.path === "/quitquitquit");
  await sidecar.close();
  say(`iqqq exited with status ${status}; sidecar stopped: ${sidecar.quits() === 1 ? "yes" : "NO"}\n`);
  return { status, quitAfterMs: quit && programEnded ? quit.at - programEnded : null };
}

const ok = await scenario("1. a job that succeeds", 'echo "job: working…"; sleep 0.5; echo "job: done"');
const failed = await scenario("2. a job that fails: its status is kept", 'echo "job: working…"; exit 3');
const pass = ok.status === 0 && failed.status === 3 && ok.quitAfterMs !== null && failed.quitAfterMs !== null;
say(
  `${pass ? "OK" : "FAILED"}: both jobs ran, kept their status (${ok.status}, ${failed.status}) and the sidecar was stopped ` +
    `${ok.quitAfterMs} ms and ${failed.quitAfterMs} ms after each ended.`,
);
process.exitCode = pass ? 0 : 1;
