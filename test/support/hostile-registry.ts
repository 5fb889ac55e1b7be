// A registry that tries what a hostile or broken one can: the distribution
// API's read side on a loopback address, behind bearer tokens, where each
// repository's first path component picks a behaviour:
//   good        an image (ENTRYPOINT ["/good"]), by tag or digest
//   bomb        the manifest gzip-compressed: 1 KiB → 256 MiB
//   endless     the config blob never ends
//   forged      the config blob is not what its digest says
//   secret      404 with a body the pod's creator must never see
//   elsewhere   the manifest redirects to another host
//   cdn         the config blob redirects to the CDN (on `cdnHost`), as registries do
//   cdn-denied  the config blob redirects to 127.0.0.3, which no one allowed
//   realm-file, realm-data, realm-other   a token realm of file:, data:, or http on another host
//   downgrade   the manifest redirects from https to http (served over TLS only)
//   held        the manifest answer is held until a second request for it comes, or 3 s
//   upgrade     the manifest answer is 101 Switching Protocols, and the connection stays open
// Every request is recorded (path, authorization) so tests can count them.

import { createHash } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { gzipSync } from "node:zlib";

export interface Seen {
  readonly host: string;
  readonly path: string;
  readonly authorization: string | undefined;
}

export interface HostileRegistry {
  readonly port: number;
  /** host:port of the registry as images name it. */
  readonly address: string;
  readonly cdnPort: number;
  readonly seen: Seen[];
  close(): Promise<void>;
}

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
let bomb: Buffer | undefined;

export interface HostileOptions {
  /** Serve over TLS with this pair (the registry is then named by `name`). */
  readonly tls?: { cert: Buffer; key: Buffer };
  /** The registry's name in image references; default 127.0.0.1:PORT. */
  readonly name?: string;
  /** Where the CDN listens: default 127.0.0.2. */
  readonly cdnHost?: string;
}

export async function hostileRegistry(options: HostileOptions = {}): Promise<HostileRegistry> {
  const seen: Seen[] = [];
  const blobs = new Map<string, Buffer>();
  const put = (body: unknown): string => {
    const bytes = Buffer.from(JSON.stringify(body));
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    blobs.set(digest, bytes);
    return digest;
  };
  /** An image manifest naming `configDigest` as its config. */
  const manifestNaming = (configDigest: string): Buffer =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: 1 },
        layers: [],
      }),
    );
  const manifestFor = (config: unknown): Buffer => manifestNaming(put(config));
  const good = manifestFor({ config: { Entrypoint: ["/good"], Cmd: ["run"] } });
  const goodDigest = `sha256:${createHash("sha256").update(good).digest("hex")}`;
  blobs.set(goodDigest, good);
  const forged = manifestFor({ config: { Entrypoint: ["/forged-original"] } });
  const endless = manifestNaming(`sha256:${"e".repeat(64)}`);
  bomb ??= gzipSync(Buffer.alloc(256 * 1024 * 1024, 0x20), { level: 9 });

  // The CDN: serves any blob it is asked for, and the token endpoint of realm-other.
  const cdn = createHttpServer((req, res) => {
    seen.push({ host: "cdn", path: req.url ?? "", authorization: req.headers.authorization });
    const digest = /\/blob\/(.+)$/.exec(req.url ?? "")?.[1] ?? "";
    const blob = blobs.get(digest);
    if (req.url?.startsWith("/token")) return json(res, 200, { token: "t0ken" });
    if (blob === undefined) return json(res, 404, { errors: [{ code: "BLOB_UNKNOWN" }] });
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(blob);
  });
  const cdnHost = options.cdnHost ?? "127.0.0.2";
  await new Promise<void>((resolve) => cdn.listen(0, cdnHost, resolve));
  const cdnPort = (cdn.address() as { port: number }).port;

  const held: ServerResponse[] = [];
  const release = (): void => {
    for (const res of held.splice(0)) {
      res.writeHead(200, { "content-type": MANIFEST });
      res.end(good);
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    seen.push({ host: "registry", path: url.pathname, authorization: req.headers.authorization });
    const m = /^\/v2\/([a-z0-9-]+)\/[a-z0-9-]+\/(manifests|blobs)\/(.+)$/.exec(url.pathname);
    const kind = m?.[1] ?? "";
    if (url.pathname === "/token") return json(res, 200, { token: "t0ken" });
    if (req.headers.authorization !== "Bearer t0ken") {
      const realm =
        kind === "realm-file"
          ? "file:///etc/hostname"
          : kind === "realm-data"
            ? 'data:application/json,{"token":"t0ken"}'
            : kind === "realm-other"
              ? `http://${cdnHost}:${cdnPort}/token`
              : `${options.tls ? "https" : "http"}://${address}/token`;
      res.writeHead(401, { "www-authenticate": `Bearer realm="${realm}",service="hostile"` });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (m === null) return json(res, 404, { errors: [{ code: "NAME_UNKNOWN" }] });
    const [, , what, ref] = m as unknown as [string, string, string, string];
    if (what === "manifests") {
      if (kind === "bomb") {
        res.writeHead(200, { "content-type": MANIFEST, "content-encoding": "gzip", "content-length": bomb?.length });
        res.end(bomb);
        return;
      }
      if (kind === "secret") {
        res.writeHead(404, { "content-type": "application/json" });
        res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"SECRET-REGISTRY-BODY"}]}');
        return;
      }
      if (kind === "elsewhere") return redirect(res, `http://${cdnHost}:${cdnPort}/blob/${goodDigest}`);
      if (kind === "downgrade") return redirect(res, `http://${address}${url.pathname.replace("downgrade", "good")}`);
      if (kind === "forged") return send(res, MANIFEST, forged);
      if (kind === "upgrade") {
        req.socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: nothing\r\n\r\n");
        return;
      }
      if (kind === "endless") return send(res, MANIFEST, endless);
      if (kind === "held") {
        held.push(res);
        if (held.length > 1) release();
        else setTimeout(release, 3000).unref();
        return;
      }
      const found = ref === goodDigest || !ref.startsWith("sha256:") ? good : blobs.get(ref);
      if (found === undefined) return json(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN" }] });
      return send(res, MANIFEST, found);
    }
    if (kind === "endless") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", pump);
      };
      res.on("close", () => res.removeAllListeners("drain"));
      return pump();
    }
    if (kind === "forged")
      return send(res, "application/octet-stream", Buffer.from('{"config":{"Entrypoint":["/forged"]}}'));
    if (kind === "cdn") return redirect(res, `http://${cdnHost}:${cdnPort}/blob/${ref}`);
    if (kind === "cdn-denied") return redirect(res, `http://127.0.0.3:${cdnPort}/blob/${ref}`);
    const blob = blobs.get(ref);
    if (blob === undefined) return json(res, 404, { errors: [{ code: "BLOB_UNKNOWN" }] });
    return send(res, "application/octet-stream", blob);
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handle) : createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const address = `${options.name ?? "127.0.0.1"}:${port}`;
  return {
    port,
    address,
    cdnPort,
    seen,
    async close() {
      release();
      server.closeAllConnections();
      cdn.closeAllConnections();
      await Promise.all([
        new Promise((resolve) => server.close(resolve)),
        new Promise((resolve) => cdn.close(resolve)),
      ]);
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function send(res: ServerResponse, type: string, body: Buffer): void {
  res.writeHead(200, { "content-type": type, "content-length": body.length });
  res.end(body);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(307, { location });
  res.end();
}
