// The flags several commands share, one row each: the iqqq image, the platform
// whose image config is read, how iqqq goes into a pod, and what a watcher
// watches. inject and the webhook list the same rows, so they cannot drift.

import type { Mode, Volume } from "../inject/inject.js";
import { badPlatform } from "../registry/reference.js";
import { FlagError, flag } from "./flags.js";

export const IMAGE = flag({
  name: "image",
  value: "REF",
  help: "the iqqq image for the init container (or the watcher);\ndefault: $IQQQ_IMAGE",
  default: (env): string | undefined => env.IQQQ_IMAGE || undefined,
  parse: (raw): string | undefined => raw,
});

export const PLATFORM = flag({
  name: "platform",
  value: "OS/ARCH",
  help: "the platform whose image config is read when a container\nhas no command; default $default",
  shownDefault:
    "the pod's nodeSelector\n(or required node affinity) on kubernetes.io/arch:\nlinux/ARCH; else both linux/amd64 and linux/arm64, whose\nENTRYPOINT and CMD must then agree",
  default: (): string | undefined => undefined,
  parse: (raw): string | undefined => {
    const bad = badPlatform(raw);
    if (bad !== undefined) throw new FlagError(bad);
    return raw;
  },
});

export const MODE = flag({
  name: "mode",
  value: "MODE",
  help: "wrapper (default): an init container copies iqqq into an\nemptyDir and each job container's command starts with it;\nwatcher: a watcher container instead, with\nshareProcessNamespace: it waits for the job containers'\nprocesses (each marked by a mount at /run/iqqq-job),\nwhatever they exec into",
  default: (): Mode => "wrapper",
  parse: (raw): Mode => {
    if (raw !== "wrapper" && raw !== "watcher") throw new FlagError("expected wrapper or watcher");
    return raw;
  },
});

export const WATCH = flag({
  name: "watch",
  value: "NAME",
  help: "watcher mode: wait for processes named NAME instead",
  default: (): string | undefined => undefined,
  parse: (raw): string | undefined => raw,
});

export const VOLUME = flag({
  name: "volume",
  value: "KIND",
  help: "wrapper mode: emptydir (default): an init container copies iqqq\ninto an emptyDir, on any cluster; image: the iqqq image is\nmounted as an image volume, nothing copied (Kubernetes 1.33\nand later, with image volumes on: on by default from 1.35)",
  default: (): Volume => "emptydir",
  parse: (raw): Volume => {
    if (raw !== "emptydir" && raw !== "image") throw new FlagError("expected emptydir or image");
    return raw;
  },
});

/** The flags of every command that injects iqqq (inject, webhook): a flag added here is added to both. */
export const INJECTION = [IMAGE, MODE, VOLUME, PLATFORM] as const;

/** No image given: the same message from every command. */
export function noImage(command: string): string {
  return `iqqq ${command}: error: which iqqq image? Give --image REF or set IQQQ_IMAGE\n`;
}
