// Host names for node:http, bounded. Node's own lookup is getaddrinfo(3) on a
// libuv thread, which cannot be cancelled: with a DNS server that never answers,
// the request is abandoned at its deadline but process.exit() still joins that
// thread, holding iqqq's exit for resolv.conf's timeout × attempts (about 10 s,
// for every name of the search list). So a name that /etc/hosts does not answer
// is looked up by a child process running the same getaddrinfo (same libc,
// nsswitch, search domains and ndots), which is killed when time is up.
// (The Bun executable's fetch has its own resolver and is not affected.)

import { builtin } from "../runtime/builtins.js";

export interface Address {
  readonly address: string;
  readonly family: 4 | 6;
}

export type Resolved =
  | { readonly kind: "ok"; readonly addresses: readonly Address[] }
  | { readonly kind: "error"; readonly code: string }
  | { readonly kind: "timeout" };

/** For the child: getaddrinfo through dns.lookup, answered as JSON on stdout. */
const LOOKUP_SCRIPT = `require("node:dns").lookup(process.argv[1], { all: true }, (e, a) => process.stdout.write(JSON.stringify(e ? { code: e.code } : a)));`;

type IsIP = (input: string) => number;

export async function resolveHost(hostname: string, signal: AbortSignal, hostsFile = "/etc/hosts"): Promise<Resolved> {
  const { isIP } = builtin("node:net");
  const family = isIP(hostname);
  if (family !== 0) return { kind: "ok", addresses: [{ address: hostname, family: family as 4 | 6 }] };
  const fromFile = fromHostsFile(hostname, hostsFile, isIP);
  if (fromFile.length > 0) return { kind: "ok", addresses: fromFile };
  return lookupInChild(hostname, signal, isIP);
}

/** The addresses /etc/hosts gives `hostname`, in file order (as glibc's "files" source). */
function fromHostsFile(hostname: string, hostsFile: string, isIP: IsIP): Address[] {
  let text: string;
  try {
    text = builtin("node:fs").readFileSync(hostsFile, "utf8");
  } catch {
    return [];
  }
  const wanted = hostname.toLowerCase().replace(/\.$/, "");
  const found: Address[] = [];
  for (const line of text.split("\n")) {
    const [address, ...names] = (line.split("#")[0] ?? "").trim().split(/\s+/);
    if (address === undefined || names.length === 0) continue;
    const family = isIP(address);
    if (family === 0) continue;
    if (names.some((n) => n.toLowerCase() === wanted)) found.push({ address, family: family as 4 | 6 });
  }
  return found;
}

async function lookupInChild(hostname: string, signal: AbortSignal, isIP: IsIP): Promise<Resolved> {
  const { spawn } = builtin("node:child_process");
  if (signal.aborted) return { kind: "timeout" };
  // NODE_OPTIONS is the program's, not the lookup's.
  const { NODE_OPTIONS: _, ...env } = process.env;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: Resolved): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const child = spawn(process.execPath, ["-e", LOOKUP_SCRIPT, hostname], {
      stdio: ["ignore", "pipe", "ignore"],
      env,
    });
    const onAbort = (): void => {
      child.kill("SIGKILL");
      settle({ kind: "timeout" });
    };
    signal.addEventListener("abort", onAbort);
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    child.on("error", (err: NodeJS.ErrnoException) => settle({ kind: "error", code: err.code ?? "ENOTFOUND" }));
    child.on("close", () => settle(parseAnswer(out, isIP)));
  });
}

function parseAnswer(out: string, isIP: IsIP): Resolved {
  try {
    const answer = JSON.parse(out) as { code?: string } | { address: string; family: number }[];
    if (!Array.isArray(answer)) return { kind: "error", code: answer.code ?? "ENOTFOUND" };
    const addresses = answer
      .filter((a) => isIP(a.address) !== 0)
      .map((a) => ({ address: a.address, family: isIP(a.address) as 4 | 6 }));
    return addresses.length > 0 ? { kind: "ok", addresses } : { kind: "error", code: "ENOTFOUND" };
  } catch {
    return { kind: "error", code: "ENOTFOUND" };
  }
}
