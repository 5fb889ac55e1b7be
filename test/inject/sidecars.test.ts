// Every kind of the sidecar catalogue, found in a pod as iqqq inject and the
// webhook find it, and in the pod's annotations as the wrapper reads them at
// stop time: driven by the records, so a new kind is tested with no new test.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { podSidecars } from "../../src/inject/sidecars.js";
import { decide, presentIn } from "../../src/pod/facts.js";
import { containerKinds, type HttpSidecar, isContainerOf, SIDECARS } from "../../src/sidecar/catalogue.js";

const KINDS = SIDECARS as readonly HttpSidecar[];
const JOB = { name: "job", image: "busybox", command: ["sh", "-c", "exit 0"] };

/** A container name the kind's name pattern accepts (the patterns are literal words, anchored or not). */
function sampleName(kind: HttpSidecar): string {
  return kind.container.name.source.replace(/^\^/, "").replace(/\$$/, "");
}

/** A container of the kind with its stop endpoint switched on the way the kind allows on a container. */
function switchedOn(kind: HttpSidecar, port?: string) {
  const sw = kind.quitSwitch;
  const from = kind.portFrom;
  return {
    name: sampleName(kind),
    image: "example.test/sidecar:1",
    args: [
      ...(sw?.flag !== undefined ? [sw.flag] : []),
      ...(port !== undefined && from?.flag !== undefined ? [`${from.flag}=${port}`] : []),
    ],
    env: [
      ...(sw?.env !== undefined && sw.flag === undefined ? [{ name: sw.env, value: "true" }] : []),
      ...(port !== undefined && from?.env !== undefined && from.flag === undefined
        ? [{ name: from.env, value: port }]
        : []),
    ],
  };
}

/** Pod annotations that switch the kind's stop on, where only an annotation can. */
function switchAnnotations(kind: HttpSidecar): Record<string, string> {
  const sw = kind.quitSwitch;
  return sw?.annotation !== undefined && sw.flag === undefined && sw.env === undefined
    ? { [sw.annotation[0]]: sw.annotation[1] }
    : {};
}

describe("inject finds every kind of the catalogue", () => {
  for (const kind of KINDS) {
    test(`${kind.name}: by its container`, () => {
      const c = switchedOn(kind);
      assert.ok(isContainerOf(kind, c), `${c.name} is not recognised as ${kind.name}`);
      const found = podSidecars({ annotations: switchAnnotations(kind) }, [JOB, c], []);
      assert.deepEqual(found.present, [kind.name]);
      assert.deepEqual(found.stop, [kind.name]);
      assert.deepEqual(found.warnings, []);
    });

    test(`${kind.name}: as a native sidecar, left to the kubelet`, () => {
      const c = { ...switchedOn(kind), restartPolicy: "Always" };
      const found = podSidecars({ annotations: switchAnnotations(kind) }, [JOB], [c]);
      assert.deepEqual(found.present, []);
    });

    if (kind.quitSwitch !== undefined) {
      test(`${kind.name}: its stop endpoint off: a warning that the pod will not end, and how to switch it on`, () => {
        const c = { name: sampleName(kind), image: "example.test/sidecar:1" };
        const found = podSidecars({}, [JOB, c], []);
        assert.deepEqual(found.present, []);
        assert.equal(found.warnings.length, 1);
        assert.ok(found.warnings[0]?.includes("the pod will not end"));
        assert.ok(found.warnings[0]?.includes(kind.quitSwitch?.how ?? "?"));
      });
    }

    if (kind.portFrom?.flag !== undefined || kind.portFrom?.env !== undefined) {
      test(`${kind.name}: a moved port is told to the wrapper, a second one becomes a generic endpoint`, () => {
        const one = switchedOn(kind, "9101");
        // A second one, told by its image (names of one kind are anchored: a second name would not be it).
        const two = {
          ...switchedOn(kind, "9102"),
          name: `${sampleName(kind)}-2`,
          image: `registry.example/${sampleName(kind)}:2`,
        };
        const found = podSidecars({ annotations: switchAnnotations(kind) }, [JOB, one, two], []);
        assert.deepEqual(found.env, [
          { name: kind.port.variable, value: "9101" },
          { name: "GENERIC_QUIT_ENDPOINTS", value: `http://127.0.0.1:9102/${kind.quitPath}` },
        ]);
      });
    }

    const asked = kind.requested;
    if (asked !== undefined) {
      test(`${kind.name}: by its injector's opt-in (${asked.key}), before its injector has run`, () => {
        const found = podSidecars({ annotations: { [asked.key]: asked.values[0] as string } }, [JOB], []);
        assert.deepEqual(found.present, [kind.name]);
        const sw = kind.quitSwitch?.annotation;
        assert.deepEqual(found.annotations, sw !== undefined ? { [sw[0]]: sw[1] } : {});
        if (kind.portFrom?.annotation !== undefined) {
          const moved = podSidecars(
            { annotations: { [asked.key]: asked.values[0] as string, [kind.portFrom.annotation]: "9103" } },
            [JOB],
            [],
          );
          assert.deepEqual(moved.env, [{ name: kind.port.variable, value: "9103" }]);
        }
        for (const key of kind.nativeAnnotations) {
          const native = podSidecars(
            { annotations: { [asked.key]: asked.values[0] as string, [key]: "true" } },
            [JOB],
            [],
          );
          assert.deepEqual(native.present, [], key);
        }
        if (kind.absentIf !== undefined) {
          const absent = podSidecars(
            {
              annotations: {
                [asked.key]: asked.values[0] as string,
                [kind.absentIf.key]: kind.absentIf.values[0] as string,
              },
            },
            [JOB],
            [],
          );
          assert.deepEqual(absent.present, []);
        }
      });
    }
  }
});

describe("a container like a sidecar only by its image is the job where no other container is (catalogue.ts's containerKinds)", () => {
  for (const kind of KINDS) {
    const pattern = kind.container.image;
    if (pattern === undefined) continue;
    test(`${kind.name}: its image alone`, () => {
      fc.assert(
        fc.property(fc.stringMatching(pattern, { size: "xsmall" }), (image) => {
          // Its stop switched on as the kind allows, so that beside a job it is one to stop.
          const byImage = { ...switchedOn(kind), name: "validate", image };
          const meta = { annotations: switchAnnotations(kind) };
          fc.pre(!KINDS.some((k) => k.container.name.test(byImage.name)));
          // Beside a job container: a sidecar.
          assert.deepEqual(containerKinds([JOB, byImage]), [undefined, kind]);
          assert.deepEqual(podSidecars(meta, [JOB, byImage], []).present, [kind.name]);
          // Alone, or beside sidecars known by their names: the pod's job, with nothing to stop.
          assert.deepEqual(containerKinds([byImage]), [undefined]);
          assert.deepEqual(podSidecars(meta, [byImage], []).present, []);
          const named = { name: sampleName(kind), image: "example.test/sidecar:1" };
          assert.deepEqual(containerKinds([named, byImage]), [kind, undefined]);
          // iqqq's own watcher is no job either (the reaper and the pod look-up see it).
          const watcher = { name: "iqqq-watcher", image: "registry.example/iqqq:1" };
          assert.deepEqual(containerKinds([watcher, byImage]), [undefined, undefined]);
        }),
        { numRuns: 50, seed: 22 },
      );
    });
  }

  test("a pod of sidecars known by their names stays one: no job container", () => {
    const named = KINDS.map((k) => ({ name: sampleName(k), image: "example.test/sidecar:1" }));
    assert.deepEqual(containerKinds(named), KINDS);
  });
});

describe("the wrapper reads every kind's marks from the pod's annotations", () => {
  for (const kind of KINDS) {
    const mark = kind.injected;
    if (mark !== undefined) {
      test(`${kind.name}: injected (${mark.key}) means present`, () => {
        const value =
          mark.listing !== undefined
            ? JSON.stringify({ initContainers: [], containers: [mark.listing] })
            : (mark.values?.[0] ?? "any");
        const annotations = new Map([[mark.key, value]]);
        assert.deepEqual([...presentIn(annotations, decide(annotations))], [kind.name]);
      });
    }
    for (const key of kind.nativeAnnotations) {
      test(`${kind.name}: ${key}: "true" means native, no quit`, () => {
        const skip = decide(new Map([[key, "true"]]));
        assert.deepEqual([...skip.keys()], [kind.name]);
      });
    }
    if (kind.absentIf !== undefined) {
      test(`${kind.name}: ${kind.absentIf.key} means absent, no quit`, () => {
        const skip = decide(new Map([[kind.absentIf?.key as string, kind.absentIf?.values[0] as string]]));
        assert.deepEqual([...skip.keys()], [kind.name]);
      });
    }
  }
});
