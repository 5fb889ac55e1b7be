// Debian's docker-registry (the distribution project's registry), on a
// loopback port of its own, with images pushed through its API (a config
// blob and a manifest, as podman push would send them, without podman; or an
// image index of one such image per architecture), and
// its access log kept: a test can count the requests it really served.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { watchOutput } from "./cli.js";

export const hasRegistry = spawnSync("docker-registry", ["--version"]).status === 0;

export interface RealRegistry {
  readonly host: string;
  /** Pushes an image whose config says this ENTRYPOINT and CMD; returns its manifest's digest. */
  push(repository: string, tag: string, entrypoint: string[], cmd: string[]): Promise<string>;
  /**
   * Pushes an image index (OCI) of one image per architecture (linux/ARCH), each config
   * saying its architecture and these ENTRYPOINT and CMD; returns each platform's manifest
   * digest, by architecture.
   */
  pushIndex(
    repository: string,
    tag: string,
    images: Record<string, { entrypoint: string[]; cmd: string[] }>,
  ): Promise<Record<string, string>>;
  /**
   * The requests served so far, as its access log lines ("GET /v2/… HTTP/1.1" 200 …). The
   * registry writes a line once it has answered: a request of the test's own, sent after, is
   * waited for in the log first, so that those answered before it are there.
   */
  requests(): Promise<string[]>;
  stop(): void;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRegistry(): Promise<RealRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  await writeFile(
    join(dir, "config.yml"),
    `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/data}}\nhttp: {addr: ${host}}\n`,
  );
  const child: ChildProcess = spawn("docker-registry", ["serve", join(dir, "config.yml")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.resume();
  const log = watchOutput(child.stdout as NodeJS.ReadableStream);
  const until = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > until) {
      child.kill("SIGKILL");
      throw new Error("docker-registry did not start");
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  let marks = 0;
  const upload = async (repository: string, body: Buffer): Promise<string> => {
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    const started = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: "POST" });
    if (started.status !== 202) throw new Error(`upload: ${started.status}`);
    const location = new URL(started.headers.get("location") ?? "", `http://${host}`);
    location.searchParams.set("digest", digest);
    const put = await fetch(location, {
      method: "PUT",
      body,
      headers: { "content-type": "application/octet-stream" },
    });
    if (put.status !== 201) throw new Error(`blob: ${put.status} ${await put.text()}`);
    return digest;
  };
  /** PUTs a manifest (or an index) under `name`, a tag or its digest; returns its digest. */
  const putManifest = async (repository: string, name: string | undefined, type: string, body: Buffer) => {
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    const put = await fetch(`http://${host}/v2/${repository}/manifests/${name ?? digest}`, {
      method: "PUT",
      body,
      headers: { "content-type": type },
    });
    if (put.status !== 201) throw new Error(`manifest: ${put.status} ${await put.text()}`);
    return digest;
  };
  const pushImage = async (
    repository: string,
    tag: string | undefined,
    architecture: string,
    entrypoint: string[],
    cmd: string[],
  ): Promise<{ digest: string; size: number }> => {
    const config = Buffer.from(
      JSON.stringify({
        architecture,
        os: "linux",
        config: { Entrypoint: entrypoint, Cmd: cmd },
        rootfs: { type: "layers", diff_ids: [] },
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: await upload(repository, config),
          size: config.length,
        },
        layers: [],
      }),
    );
    const digest = await putManifest(repository, tag, "application/vnd.oci.image.manifest.v1+json", manifest);
    return { digest, size: manifest.length };
  };
  return {
    host,
    async push(repository, tag, entrypoint, cmd) {
      return (await pushImage(repository, tag, "amd64", entrypoint, cmd)).digest;
    },
    async pushIndex(repository, tag, images) {
      const digests: Record<string, string> = {};
      const manifests = [];
      for (const [architecture, { entrypoint, cmd }] of Object.entries(images)) {
        const { digest, size } = await pushImage(repository, undefined, architecture, entrypoint, cmd);
        digests[architecture] = digest;
        manifests.push({
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest,
          size,
          platform: { os: "linux", architecture },
        });
      }
      const type = "application/vnd.oci.image.index.v1+json";
      await putManifest(
        repository,
        tag,
        type,
        Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: type, manifests })),
      );
      return digests;
    },
    async requests() {
      const mark = `/v2/?mark=${++marks}`;
      await fetch(`http://${host}${mark}`).then((r) => r.arrayBuffer());
      await log.until(mark, 10_000);
      return log
        .text()
        .split("\n")
        .filter((l) => l.includes('"') && !l.includes("/v2/?mark="));
    },
    stop: () => child.kill(),
  };
}
