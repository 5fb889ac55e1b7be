"""A stand-in for Airflow's KubernetesPodOperator: it keeps its arguments."""


class KubernetesPodOperator:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
