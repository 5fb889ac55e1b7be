"""KubernetesPodOperator: the task's own image runs in the "base" container, the
iqqq watcher beside it stops the Istio sidecar once the task's process has gone.

The operator fills the container named "base" with its image, cmds and
arguments; listing it first in full_pod_spec makes the watcher a second
container instead of replacing the task. The task's image
needs no change: no iqqq, no shell, no curl.
"""

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s

IQQQ_WATCHER_IMAGE = "registry.example/iqqq-watcher:0.1.0"  # docker/watcher.Dockerfile

# The task runs `python -m etl …`: its comm is "python3" like any other Python
# program's, so match the command line instead (a regular expression in RE2
# syntax, as Go's regexp, searched in the arguments joined by spaces).
watcher = k8s.V1Container(
    name="iqqq",
    image=IQQQ_WATCHER_IMAGE,
    env=[
        k8s.V1EnvVar(name="IQQQ_WATCH_PATTERN", value=r"^python3? -m etl( |$)"),
        k8s.V1EnvVar(name="IQQQ_WATCH_START_TIMEOUT", value="10m"),
    ],
    resources=k8s.V1ResourceRequirements(requests={"cpu": "10m", "memory": "32Mi"}),
)

full_pod_spec = k8s.V1Pod(
    metadata=k8s.V1ObjectMeta(labels={"sidecar.istio.io/inject": "true"}),
    spec=k8s.V1PodSpec(
        share_process_namespace=True,
        restart_policy="Never",
        containers=[
            k8s.V1Container(name="base"),
            watcher,
        ],
    ),
)


def etl_task(**kwargs) -> KubernetesPodOperator:
    """The operator; pass it a task_id and, inside a DAG, a dag (or use `with DAG(...)`)."""
    return KubernetesPodOperator(
        name="etl",
        image="registry.example/etl:2.0.0",
        cmds=["python", "-m", "etl"],
        arguments=["--date", "{{ ds }}"],
        full_pod_spec=full_pod_spec,
        **kwargs,
    )
