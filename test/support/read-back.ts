// Kubernetes objects as the tests read them back from iqqq's output (YAML or
// JSON) or build them to send: of any shape, walked by path
// (doc.spec.template.spec.containers[0].env) in the assertions, which are what
// check them. A typed model would only add a `!` at every step.

// biome-ignore lint/suspicious/noExplicitAny: objects of any shape, walked freely; the assertions that walk them are the checks
export type Obj = Record<string, any>;

/** A Job whose container `job` runs python:3.12, with `spec` and `container` laid over its pod spec and container. */
export function jobManifest(spec: Obj = {}, container: Obj = { command: ["python", "/app/report.py"] }): Obj {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "report" },
    spec: {
      template: {
        spec: { restartPolicy: "Never", containers: [{ name: "job", image: "python:3.12", ...container }], ...spec },
      },
    },
  };
}
