"""Airflow KubernetesExecutor: stop the Istio sidecar when the task ends, with iqqq.

A common "istio quitter" sidecar does this with a bash loop in a bash+procps+curl image:

    while pgrep airflow >/dev/null; do sleep 10; done; curl -s -f -XPOST http://127.0.0.1:15020/quitquitquit

which notices the end up to 10 s late, never starts watching if the task has not
started yet (it quits at once), and cannot be stopped by SIGTERM (sh as PID 1).
The iqqq watcher image has no shell at all; it waits for `airflow` to appear,
notices its end within a tenth of a second, retries the quit within a budget,
and exits on SIGTERM.

Use it per task:

    from executor_config import kube_exec_istio_quit
    PythonOperator(task_id="x", python_callable=f, executor_config=kube_exec_istio_quit)

or for every task through `default_args={"executor_config": kube_exec_istio_quit}`.
"""

from kubernetes.client import models as k8s

IQQQ_WATCHER_IMAGE = "registry.example/iqqq-watcher:0.1.0"  # docker/watcher.Dockerfile


def iqqq_watcher(
    process: str = "airflow",
    start_timeout: str = "10m",
    image: str = IQQQ_WATCHER_IMAGE,
) -> k8s.V1Container:
    """The iqqq watcher container: waits for `process` to end, then stops the sidecar.

    The task's command is `airflow tasks run …` (kernel comm "airflow"; Airflow's
    task runner later retitles itself "airflow task runner: …", which still
    matches). If nothing named `process` appears within `start_timeout`, iqqq
    stops the sidecar anyway and exits 75, so the pod cannot hang.
    """
    return k8s.V1Container(
        name="iqqq",
        image=image,
        env=[
            k8s.V1EnvVar(name="IQQQ_WATCH_PROCESS", value=process),
            k8s.V1EnvVar(name="IQQQ_WATCH_START_TIMEOUT", value=start_timeout),
            k8s.V1EnvVar(name="IQQQ_LOG_LEVEL", value="info"),
        ],
        resources=k8s.V1ResourceRequirements(requests={"cpu": "10m", "memory": "32Mi"}),
        security_context=k8s.V1SecurityContext(
            run_as_non_root=True,
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
    )


# The executor merges pod_override into the worker pod: the "base" container
# (the task) comes from Airflow's pod template, the watcher is added beside it.
# share_process_namespace lets the watcher see the task's processes in /proc.
kube_exec_istio_quit = {
    "pod_override": k8s.V1Pod(
        spec=k8s.V1PodSpec(
            share_process_namespace=True,
            containers=[
                k8s.V1Container(name="base"),
                iqqq_watcher(),
            ],
        )
    )
}
