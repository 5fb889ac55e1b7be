// Image references and digests, read by the grammar of the distribution
// project's reference package (github.com/distribution/reference, regexp.go
// and normalize.go), which is what the kubelet's image pull uses:
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [domain "/"] path-component ["/" path-component]*   (≤ 255 chars)
//   domain    := host [":" port]; host := domain-name | "[" IPv6 "]"
//   tag       := [\w][\w.-]{0,127}
//   digest    := algorithm ":" hex (≥ 32)
// Nothing else is accepted: no `?`, `#`, `..`, `%`, user info, or a path
// smuggled into a digest, so that a pod's image name can name a registry and
// an image in it, and never a URL of its own choosing.

/** The digest algorithms iqqq can verify content with (OCI image spec: registered algorithms). */
const ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type Algorithm = keyof typeof ALGORITHMS;

export interface Digest {
  readonly algorithm: Algorithm;
  /** Lower-case hex. */
  readonly hex: string;
  /** algorithm:hex, as it goes into a URL. */
  readonly text: string;
}

export interface Reference {
  /** host[:port] as written (Docker Hub: registry-1.docker.io), for messages and credentials. */
  readonly registry: string;
  /** The host to connect to: a name, an IPv4 address, or an IPv6 address without brackets. */
  readonly host: string;
  readonly port: number | undefined;
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):([0-9a-fA-F]{32,})$/;
const NAME_MAX = 255;

export class BadReference extends Error {}

/** docker.io/library/python:3.12 and its short forms, as Docker and the kubelet read them. */
export function parseReference(ref: string): Reference {
  const bad = (why: string): never => {
    throw new BadReference(
      `${JSON.stringify(ref.length > 300 ? `${ref.slice(0, 300)}…` : ref)} is not an image reference: ${why}`,
    );
  };
  let rest = ref;
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = parseDigest(rest.slice(at + 1), bad);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    if (!TAG.test(tag)) bad(`the tag ${JSON.stringify(tag)} has characters a tag cannot have`);
    rest = rest.slice(0, colon);
  }
  if (rest.length > NAME_MAX) bad(`the name is longer than ${NAME_MAX} characters`);
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  let registry = "docker.io";
  let host = "registry-1.docker.io";
  let port: number | undefined;
  if (slash >= 0 && (/[.:]/.test(first) || first === "localhost" || first.toLowerCase() !== first)) {
    ({ host, port } = parseDomain(first, bad));
    registry = first;
    rest = rest.slice(slash + 1);
  }
  for (const component of rest.split("/"))
    if (!PATH_COMPONENT.test(component))
      bad(
        `${JSON.stringify(component)} is not a repository name component (lower-case letters, digits, and . _ __ - between them)`,
      );
  if (registry === "docker.io" || registry === "index.docker.io") {
    registry = "registry-1.docker.io";
    if (!rest.includes("/")) rest = `library/${rest}`;
  }
  if (tag === undefined && digest === undefined) tag = "latest";
  return { registry, host, port, repository: rest, tag, digest };
}

function parseDomain(domain: string, bad: (why: string) => never): { host: string; port: number | undefined } {
  let host = domain;
  let port: number | undefined;
  const m = /^(.*):([0-9]+)$/.exec(domain);
  if (m !== null && !(m[1] as string).endsWith(":")) {
    host = m[1] as string;
    port = Number(m[2]);
    if (port < 1 || port > 65535) bad(`the port ${m[2]} is out of range`);
  }
  if (host.startsWith("[") && host.endsWith("]")) {
    const inner = host.slice(1, -1);
    if (!/^[a-fA-F0-9:]+$/.test(inner) || !inner.includes(":")) bad(`${host} is not an IPv6 address`);
    return { host: inner, port };
  }
  if (!host.split(".").every((c) => DOMAIN_COMPONENT.test(c))) bad(`${JSON.stringify(domain)} is not a registry host`);
  return { host, port };
}

/** algorithm:hex; only the algorithms iqqq can verify. */
export function parseDigest(text: string, bad: (why: string) => never = fail): Digest {
  const m = DIGEST.exec(text);
  if (m === null) return bad(`${JSON.stringify(text.slice(0, 200))} is not a digest (algorithm:hex)`);
  const algorithm = m[1] as string;
  const hex = m[2] as string;
  if (!(algorithm in ALGORITHMS))
    return bad(`the digest algorithm ${algorithm} is not one iqqq can verify (sha256, sha512)`);
  const length = ALGORITHMS[algorithm as Algorithm];
  if (hex.length !== length || hex !== hex.toLowerCase())
    return bad(`a ${algorithm} digest is ${length} lower-case hex digits`);
  return { algorithm: algorithm as Algorithm, hex, text: `${algorithm}:${hex}` };
}

function fail(why: string): never {
  throw new BadReference(why);
}

/** The reference's manifest as the registry names it: the digest when pinned, else the tag. */
export function manifestName(ref: Reference): string {
  return ref.digest?.text ?? (ref.tag as string);
}

/** Why a platform is not OS/ARCH or OS/ARCH/VARIANT (as an image index names them), or undefined. */
export function badPlatform(text: string): string | undefined {
  return /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/.test(text)
    ? undefined
    : "expected OS/ARCH or OS/ARCH/VARIANT, such as linux/amd64 or linux/arm/v7";
}
