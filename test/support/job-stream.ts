// A deterministic stream of Kubernetes manifests as a chart renders them: Jobs
// in an Istio mesh (each pod template asks for istio-proxy), with ConfigMaps
// and Services between them. The input of bench/inject.ts (`iqqq inject` at
// scale) and of the golden test that holds inject's output to its bytes
// (test/inject/stream.test.ts). The same count gives the same text, always.

/** How the documents vary, by their number: every style inject must keep as written turns up. */
export function jobStream(jobs: number): string {
  const out: string[] = [];
  for (let i = 0; i < jobs; i++) {
    if (i % 5 === 0) out.push(configMap(i));
    if (i % 10 === 3) out.push(service(i));
    out.push(job(i));
  }
  return out.join("");
}

function configMap(i: number): string {
  return `---
# Source: reports/templates/config-${i}.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: report-config-${i}
  namespace: batch
  labels:
    app.kubernetes.io/name: report
    app.kubernetes.io/managed-by: Helm
data:
  report.ini: |
    [report]
    shard = ${i}
    day = 2026-12-${String((i % 28) + 1).padStart(2, "0")}
    verbose = on
  LOG_LEVEL: info
  RETRIES: "3"
`;
}

function service(i: number): string {
  return `---
# Source: reports/templates/service-${i}.yaml
apiVersion: v1
kind: Service
metadata:
  name: report-metrics-${i}
  namespace: batch
spec:
  selector: {app: report, shard: "${i}"}
  ports:
    - name: http-metrics
      port: 9090
      targetPort: 9090
`;
}

function job(i: number): string {
  const anchored = i % 50 === 7;
  const flow = i % 9 === 4;
  const crlf = i % 97 === 13;
  const text = `---
# Source: reports/templates/job-${i}.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: report-${i}
  namespace: batch
  labels:
    app.kubernetes.io/instance: report-${i}   # one per shard
spec:
  backoffLimit: 2
  template:
    metadata:
      labels:
        app: report
        shard: "${i}"
        sidecar.istio.io/inject: "true"
      annotations:
        proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": true}'
    spec:
      restartPolicy: Never
${anchored ? "      x-common: &common\n        imagePullPolicy: IfNotPresent\n" : ""}      containers:
        - name: report
${anchored ? "          <<: *common\n" : ""}          image: registry.example/reports/report:1.${i % 10}.0
${
  flow
    ? `          command: [python, -m, report]
          args: [--day, "2026-12-01", --shard, "${i}", --dry-run, "no"]`
    : `          command:
            - python
            - -m
            - report
          args: [--shard, "${i}"]`
}
          env:
            - name: SHARD
              value: "${i}"
            - name: VERBOSE
              value: "on"
          resources: {requests: {cpu: 100m, memory: 128Mi}}
          volumeMounts:
            - name: config
              mountPath: /etc/report
              readOnly: true
      volumes:
        - name: config
          configMap:
            name: report-config-${i - (i % 5)}
            defaultMode: 0644
`;
  return crlf ? text.replaceAll("\n", "\r\n") : text;
}
