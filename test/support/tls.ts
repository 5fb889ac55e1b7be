// A CA, and a serving certificate it signs for 127.0.0.1, made with openssl,
// as cert-manager would issue them: for iqqq webhook's tests.

import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Tls {
  /** The CA certificate (PEM), the only one a client should trust. */
  readonly ca: Buffer;
  /** Paths of the serving certificate and key (PEM). */
  readonly cert: string;
  readonly key: string;
}

/**
 * `names`: more DNS names the serving certificate is good for (a test registry's, say).
 * `key`: the serving key's kind (deploy/cert-manager/certificate.yaml asks cert-manager for "ec", P-256).
 */
export async function makeTls(names: readonly string[] = [], key: "rsa" | "ec" = "rsa"): Promise<Tls> {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-tls-"));
  const at = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  };
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=iqqq test CA",
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.crt"),
  );
  openssl(
    "req",
    "-newkey",
    key === "ec" ? "ec" : "rsa:2048",
    ...(key === "ec" ? ["-pkeyopt", "ec_paramgen_curve:P-256"] : []),
    "-nodes",
    "-subj",
    "/CN=iqqq-webhook",
    "-keyout",
    at("tls.key"),
    "-out",
    at("tls.csr"),
  );
  const more = names.map((n) => `,DNS:${n}`).join("");
  await writeFile(at("ext"), `subjectAltName=IP:127.0.0.1,DNS:iqqq-webhook.iqqq-system.svc${more}\n`);
  openssl(
    "x509",
    "-req",
    "-in",
    at("tls.csr"),
    "-CA",
    at("ca.crt"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    at("ext"),
    "-out",
    at("tls.crt"),
  );
  return { ca: await readFile(at("ca.crt")), cert: at("tls.crt"), key: at("tls.key") };
}
