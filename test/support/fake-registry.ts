// A registry for the tests: the distribution API's read side for one
// repository (team/job), behind bearer tokens, as Docker Hub serves it, on a
// loopback port. Tags: "1" (an index of amd64 and arm64 images of one
// ENTRYPOINT and CMD), "split" (an index whose amd64 and arm64 images run
// different ENTRYPOINTs), "wrapped"
// (ENTRYPOINT is iqqq already), "dollars" (a shell ENTRYPOINT with what the
// kubelet would expand, and CMD words YAML 1.1 would misread), "paired" (an
// index whose two platform manifests are served only to requests that are
// both under way at once: 404 to one left alone for PAIR_WAIT_MS), "gone" (an
// index whose platform manifests are not there).

import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";

export const DOLLARS = {
  entrypoint: ["sh", "-c", 'echo "my pid is $$, home $(HOME), $$(HOME) $(" "$@"', "--"],
  cmd: ["$(HOME)", "on", "0644", "yes", "1e3", "$"],
};

/** How long a "paired" manifest request waits for the other platform's before it is answered 404. */
export const PAIR_WAIT_MS = 5000;

export interface FakeRegistry {
  readonly server: Server;
  readonly port: number;
  tokensIssued: number;
  readonly scopes: string[];
  /** base64(user:password) the token endpoint then insists on, as a private repository's does. */
  requireCredentials: string | undefined;
}

/** The distribution API's read side for one repository, behind bearer tokens, as Docker Hub serves it. */
export async function fakeRegistry(): Promise<FakeRegistry> {
  const state = { tokensIssued: 0, scopes: [] as string[], requireCredentials: undefined as string | undefined };
  const blobs = new Map<string, { type: string; body: string }>();
  const put = (type: string, body: unknown): string => {
    const text = JSON.stringify(body);
    const digest = `sha256:${createHash("sha256").update(text).digest("hex")}`;
    blobs.set(digest, { type, body: text });
    return digest;
  };
  /** An image manifest whose config is `config`. */
  const manifest = (config: unknown): string =>
    put("application/vnd.oci.image.manifest.v1+json", {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: put("application/vnd.oci.image.config.v1+json", config),
        size: 1,
      },
      layers: [],
    });
  /** One platform's image: its ENTRYPOINT names the platform when `split`. */
  const image = (arch: string, split: boolean) =>
    manifest({
      architecture: arch,
      os: "linux",
      config: { Entrypoint: split ? ["/entry", `--${arch}`] : ["/entry"], Cmd: ["run", "all"] },
    });
  const wrapped = manifest({ config: { Entrypoint: ["/usr/local/bin/iqqq", "/app/job"], Cmd: [] } });
  /** A shell ENTRYPOINT with what the kubelet would expand in a pod spec, and CMD words YAML 1.1 would misread. */
  const dollars = manifest({ config: { Entrypoint: DOLLARS.entrypoint, Cmd: DOLLARS.cmd } });
  const index = (split: boolean) => ({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: ["amd64", "arm64"].map((arch) => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: image(arch, split),
      size: 1,
      platform: { os: "linux", architecture: arch },
    })),
  });
  /** An index of amd64 and arm64 manifests named by these digests. */
  const indexOf = (digests: string[]) => ({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: ["amd64", "arm64"].map((arch, i) => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: digests[i],
      size: 1,
      platform: { os: "linux", architecture: arch },
    })),
  });
  const paired = ["amd64", "arm64"].map((arch) =>
    manifest({ architecture: arch, os: "linux", config: { Entrypoint: ["/paired"], Cmd: [] } }),
  );
  const gone = ["amd64", "arm64"].map((arch) => `sha256:${createHash("sha256").update(`gone ${arch}`).digest("hex")}`);
  const indexes: Record<string, string> = {
    "1": JSON.stringify(index(false)),
    split: JSON.stringify(index(true)),
    paired: JSON.stringify(indexOf(paired)),
    gone: JSON.stringify(indexOf(gone)),
  };
  /** A "paired" manifest request waiting for the other's: its answer. */
  let waiting: ((served: boolean) => void) | undefined;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/token") {
      if (state.requireCredentials !== undefined && req.headers.authorization !== `Basic ${state.requireCredentials}`) {
        res.writeHead(401, { "content-type": "application/json" });
        return res.end('{"details":"incorrect username or password"}');
      }
      state.tokensIssued++;
      state.scopes.push(url.searchParams.get("scope") ?? "");
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ token: "t0ken" }));
    }
    if (req.headers.authorization !== "Bearer t0ken") {
      const { port } = server.address() as { port: number };
      res.writeHead(401, {
        "www-authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="fake",scope="repository:team/job:pull"`,
      });
      return res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    }
    const m = /^\/v2\/team\/job\/(manifests|blobs)\/(.+)$/.exec(url.pathname);
    if (paired.includes(m?.[2] ?? "")) {
      const answer = (served: boolean): void => {
        const body = served ? blobs.get(m?.[2] ?? "") : undefined;
        res.writeHead(body ? 200 : 404, { "content-type": body?.type ?? "application/json" });
        res.end(body?.body ?? '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      };
      if (waiting !== undefined) {
        waiting(true);
        waiting = undefined;
        return answer(true);
      }
      const alone = setTimeout(() => {
        waiting = undefined;
        answer(false);
      }, PAIR_WAIT_MS);
      waiting = (served) => {
        clearTimeout(alone);
        answer(served);
      };
      return;
    }
    const found =
      m?.[2] !== undefined && Object.hasOwn(indexes, m[2])
        ? { type: "application/vnd.oci.image.index.v1+json", body: indexes[m[2]] as string }
        : m?.[2] === "wrapped" || m?.[2] === "dollars"
          ? (blobs.get(m[2] === "wrapped" ? wrapped : dollars) as { type: string; body: string })
          : blobs.get(m?.[2] ?? "");
    if (found === undefined) {
      res.writeHead(404, { "content-type": "application/json" });
      return res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    }
    res.writeHead(200, { "content-type": found.type });
    res.end(found.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const registry = {
    server,
    port: (server.address() as { port: number }).port,
    get tokensIssued() {
      return state.tokensIssued;
    },
    set tokensIssued(n: number) {
      state.tokensIssued = n;
    },
    scopes: state.scopes,
    get requireCredentials() {
      return state.requireCredentials;
    },
    set requireCredentials(value: string | undefined) {
      state.requireCredentials = value;
    },
  };
  return registry;
}
