"""Loads the Airflow examples with the stand-ins above and prints, as JSON, the
Kubernetes objects they build and the k8s model classes they use."""

import importlib.util
import json
import sys

from kubernetes.client import models


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


executor = load(sys.argv[1], "executor_config")
kpo = load(sys.argv[2], "kubernetes_pod_operator")
operator = kpo.etl_task(task_id="etl")
print(
    json.dumps(
        {
            "executor_pod_override": models.to_api(executor.kube_exec_istio_quit["pod_override"]),
            "kpo_full_pod_spec": models.to_api(operator.kwargs["full_pod_spec"]),
            "kpo_operator_keys": sorted(operator.kwargs),
            "classes": sorted(models.USED),
        }
    )
)
